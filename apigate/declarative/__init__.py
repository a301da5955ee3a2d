"""Declarative apps: SAM and CloudFormation templates deployed through the management API."""
