"""A legacy verifier for AWS Cognito, as an AWS Lambda handler (a function URL or API Gateway
in front of it), for the lazy migration of docs/move-your-users-here.md.

The provider POSTs {"email": …, "password": …} with `Authorization: Bearer $TOKEN`; this
answers {"valid": true|false}. Anything unexpected raises, so the provider gets an error
and fails closed. Environment: COGNITO_CLIENT_ID, COGNITO_CLIENT_SECRET (if the app client
has one), VERIFIER_TOKEN (the provider's IDP_LEGACY_VERIFIER_TOKEN). The app client must
allow ALLOW_USER_PASSWORD_AUTH. Never log the event: it holds the password.
"""

import base64
import hashlib
import hmac
import json
import os

import boto3

CLIENT_ID = os.environ["COGNITO_CLIENT_ID"]
CLIENT_SECRET = os.environ.get("COGNITO_CLIENT_SECRET")
TOKEN = os.environ["VERIFIER_TOKEN"]
cognito = boto3.client("cognito-idp")

# Cognito asks for these only after the password was right.
PASSWORD_WAS_RIGHT = {"SMS_MFA", "SOFTWARE_TOKEN_MFA", "EMAIL_OTP", "MFA_SETUP", "SELECT_MFA_TYPE"}


def _answer(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def _secret_hash(username: str) -> str:
    digest = hmac.new(CLIENT_SECRET.encode(), (username + CLIENT_ID).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def handler(event: dict, context: object) -> dict:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if not hmac.compare_digest(headers.get("authorization", ""), f"Bearer {TOKEN}"):
        return _answer(401, {"error": "unauthorized"})
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        raw = base64.b64decode(raw).decode()
    body = json.loads(raw)
    email, password = str(body["email"]), str(body["password"])
    parameters = {"USERNAME": email, "PASSWORD": password}
    if CLIENT_SECRET:
        parameters["SECRET_HASH"] = _secret_hash(email)
    try:
        result = cognito.initiate_auth(AuthFlow="USER_PASSWORD_AUTH", ClientId=CLIENT_ID, AuthParameters=parameters)
    except (cognito.exceptions.NotAuthorizedException, cognito.exceptions.UserNotFoundException,
            cognito.exceptions.PasswordResetRequiredException, cognito.exceptions.UserNotConfirmedException):
        return _answer(200, {"valid": False})
    # Throttling or anything else raises: a 5xx, and the provider fails closed.
    valid = "AuthenticationResult" in result or result.get("ChallengeName") in PASSWORD_WAS_RIGHT
    return _answer(200, {"valid": valid})
