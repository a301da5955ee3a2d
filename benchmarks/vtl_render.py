"""How long the VTL engine takes to render a small mapping template (parsed once, rendered many times).

Run: python benchmarks/vtl_render.py. Timings belong here, not in the test suite: machines are noisy.
"""

from __future__ import annotations

import time

from apigate.dataplane.mapping import Template, render_mapping

SOURCE = (
    '#set($root = $input.path(\'$\'))\n{"stage": "$context.stage", "pets": [\n'
    '#foreach($p in $root)\n{"id": $p.id, "type": "$p.type"}#if($foreach.hasNext),#end\n#end\n]}'
)
BODY = '[{"id": 1, "type": "dog"}, {"id": 2, "type": "cat"}, {"id": 3, "type": "fish"}]'


def main() -> None:
    started = time.perf_counter()
    template = Template.parse(SOURCE)
    parse_us = (time.perf_counter() - started) * 1e6
    runs, best = 5000, float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(runs):
            render_mapping(template, body=BODY, params={}, context={"stage": "prod"}, stage_variables={})
        best = min(best, (time.perf_counter() - started) / runs)
    print(f"parse once: {parse_us:.0f} µs; render: {best * 1e6:.1f} µs (best of 5 x {runs})")


if __name__ == "__main__":
    main()
