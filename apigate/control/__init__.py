"""The management API: AWS's apigateway and lambda operations over the document store."""
