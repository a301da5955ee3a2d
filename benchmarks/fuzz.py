"""Coverage-guided fuzzing (atheris) of two parsers that read what strangers send: the HTTP/1.1 glue around
httptools (``HttpProtocol.data_received`` on a fake transport) and the VTL engine (parse, then render).

    pip install -e '.[fuzz]'
    python benchmarks/fuzz.py                       # both targets, 60 s each
    python benchmarks/fuzz.py --target vtl --seconds 300

Not part of the test suite or CI: runs are long and results vary. Each target runs in a child process
(libFuzzer exits the process when it is done); the parent prints executions and any crash with the input
that caused it (also saved as ``crash-*`` in the working directory, replayable with ``--replay FILE``).
A crash is an exception other than the ones the code documents (``TemplateError`` for VTL; none at all
escaping ``data_received`` for HTTP), or an answer that does not start with a status line.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TARGETS = ("http", "vtl")

HTTP_SEEDS = (
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /p?q=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\nGET /2 HTTP/1.1\r\nConnection: close\r\n\r\n",
    b"PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
    b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nrest",
    b"HEAD / HTTP/1.1\r\n\r\n",
)
HTTP_TOKENS = (
    "GET ", "POST ", "HEAD ", " HTTP/1.1\r\n", " HTTP/1.0\r\n", "\r\n", "\r\n\r\n", "Host: ",
    "Content-Length: ", "Transfer-Encoding: chunked\r\n", "0\r\n\r\n", "Connection: close\r\n",
    "Connection: keep-alive\r\n", "Expect: 100-continue\r\n", "Upgrade: websocket\r\n", "?", "%", "%00",
    "http://h/", "*",
)  # fmt: skip
VTL_SEEDS = (
    b'{"a": $input.json(\'$.a\')}\x00{"a": [1, 2]}',
    b"#set($r = $input.path('$'))#foreach($x in $r)$x#if($foreach.hasNext),#end#end\x00[1,2,3]",
    b"$util.escapeJavaScript($input.body) $util.urlEncode('a b')\x00it's",
    b"#if($context.requestId == 'x')yes#elseif(1 < 2)no#{else}$!q#end",
    b"#macro(m $p)[$p]#end#m(1)#define($d)D#end$d ##c\n#* b *# #[[raw $x]]#",
    b"#set($m = {'k': [1..3]})$m.k.size() $m.get('k')[0] ${m}\x00",
    b"#set($s = 'a-b')$s.replaceAll('(a)', '$1x').split('-')[1]",
)
VTL_TOKENS = (
    "$input.json('$')", "$input.path('$')", "$input.params()", "$util.", "escapeJavaScript(", "parseJson(",
    "urlEncode(", "urlDecode(", "base64Decode(", "$context.", "requestOverride.header.", "$stageVariables.",
    "#set(", "#if(", "#elseif(", "#else", "#end", "#foreach(", " in ", "#break", "#stop", "#define(",
    "#macro(", "##", "#*", "*#", "#[[", "]]#", "$!{", "${", "[1..", "{'", "':", "&&", "||", "==", ".size()",
    ".replaceAll(", ".substring(", "$foreach.", "\x00",
)  # fmt: skip


def _write_corpus(directory: Path, seeds: tuple[bytes, ...], tokens: tuple[str, ...]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(seeds):
        (directory / f"seed-{index}").write_bytes(seed)
    dictionary = directory.parent / f"{directory.name}.dict"
    lines = []
    for token in tokens:
        escaped = "".join(
            c if c.isalnum() or c in " .,:;/()[]{}$#!=<>&|-_'" else f"\\x{ord(c):02x}" for c in token
        )
        lines.append(f'"{escaped}"')
    dictionary.write_text("\n".join(lines) + "\n")
    return dictionary


# --- the HTTP target ----------------------------------------------------------------------------------


class FakeTransport(asyncio.Transport):
    """Records what the protocol writes; everything else is a no-op."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: Any) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


def http_target() -> Any:
    from apigate.server.message import Request, Response
    from apigate.server.protocol import HttpProtocol, Limits, ServerState

    def handler(request: Request) -> Response:
        # Echo what the parser produced, so odd values travel through the response writer too.
        return Response(200, [("X-Path", request.raw_path), ("X-Query", request.query_string)], request.body)

    loop = asyncio.new_event_loop()
    limits = Limits(max_body_size=4096, max_header_bytes=2048, max_url_length=1024, max_pipelined=4)

    async def one(data: bytes) -> bytes:
        state = ServerState(handler, limits, on_upgrade=lambda request, transport, protocol: None)
        protocol = HttpProtocol(state)
        transport = FakeTransport()
        protocol.connection_made(transport)
        # The first byte picks where the input is cut: requests arrive in arbitrary pieces.
        step = 1 + (data[0] if data else 0) % 64
        payload = data[1:]
        for start in range(0, len(payload), step):
            protocol.data_received(payload[start : start + step])
            await asyncio.sleep(0)
        protocol.eof_received()
        for _ in range(8):  # let the connection's worker answer what was queued
            await asyncio.sleep(0)
        protocol.connection_lost(None)
        await asyncio.sleep(0)
        return bytes(transport.written)

    def test_one(data: bytes) -> None:
        written = loop.run_until_complete(one(data))
        if written and not written.startswith(b"HTTP/1.1 "):
            raise AssertionError(f"the answer does not start with a status line: {written[:80]!r}")

    return test_one


# --- the VTL target -----------------------------------------------------------------------------------


def vtl_target() -> Any:
    from apigate.dataplane.mapping import Template, TemplateError, render_mapping

    params = {"path": {"id": "1"}, "querystring": {"q": "x"}, "header": {"Accept": "*/*"}}
    context = {"requestId": "r-1", "stage": "prod", "identity": {"sourceIp": "127.0.0.1"}}

    def test_one(data: bytes) -> None:
        source, _, body = data.decode("utf-8", errors="replace").partition("\x00")
        try:
            template = Template.parse(source)
            render_mapping(template, body=body, params=params, context=context, stage_variables={"v": "1"})
        except TemplateError:
            pass  # the engine's own, documented error

    return test_one


# --- running --------------------------------------------------------------------------------------------


def _child(target: str, seconds: int, replay: str | None) -> None:
    import atheris

    with atheris.instrument_imports(include=["apigate"]):
        test_one = http_target() if target == "http" else vtl_target()
    executions = 0

    def counted(data: bytes) -> None:
        nonlocal executions
        executions += 1
        test_one(data)

    if replay is not None:
        counted(Path(replay).read_bytes())
        print(f"{target}: {replay} ran without a crash")
        return
    atexit.register(lambda: print(f"FUZZ {target}: {executions} executions", flush=True))
    work = Path(tempfile.mkdtemp(prefix=f"apigate-fuzz-{target}-"))
    seeds, tokens = (HTTP_SEEDS, HTTP_TOKENS) if target == "http" else (VTL_SEEDS, VTL_TOKENS)
    dictionary = _write_corpus(work / "corpus", seeds, tokens)
    args = [sys.argv[0], str(work / "corpus"), f"-max_total_time={seconds}", f"-dict={dictionary}"]
    args += ["-print_final_stats=1", "-max_len=4096", "-rss_limit_mb=1024"]
    atheris.Setup(args, counted)
    atheris.Fuzz()


def _executions(lines: list[str]) -> str:
    """libFuzzer's count when it finished on time, ours when a Python exception ended the run."""
    for line in lines:
        if line.startswith("stat::number_of_executed_units:"):
            return line.split(":")[-1].strip()
        if line.startswith("FUZZ "):
            return line.split(":")[-1].split()[0]
    return "?"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=(*TARGETS, "all"), default="all")
    parser.add_argument("--seconds", type=int, default=60, help="per target (default 60)")
    parser.add_argument("--replay", help="run one saved input (with --target) instead of fuzzing")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child or options.replay:
        target = options.target if options.target != "all" else "vtl"
        _child(target, options.seconds, options.replay)
        return 0
    failed = False
    for target in TARGETS if options.target == "all" else (options.target,):
        print(f"fuzzing {target} for {options.seconds} s ...", flush=True)
        run = subprocess.run(
            [sys.executable, __file__, "--child", "--target", target, "--seconds", str(options.seconds)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        lines = (run.stdout + run.stderr).splitlines()
        print(f"{target}: {_executions(lines)} executions")
        if run.returncode != 0:
            failed = True
            print(f"{target}: CRASH (exit {run.returncode})")
            start = next((i for i, line in enumerate(lines) if "Uncaught Python exception" in line), 0)
            print("\n".join(lines[start : start + 40]))
        else:
            print(f"{target}: no crash")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
