"""REST API authorizers: Lambda (TOKEN, REQUEST), Cognito user pools and IAM (SigV4)."""
