"""Who is calling: API-key signatures (v2/v3), login sessions, or the integration port's SYSTEM."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from management.api.native import signing
from management.api.native.registry import RawResponse
from management.config import service as config
from management.context import Caller, system_caller
from management.db import db
from management.errors import InvalidParameter, MethodNotAllowed, MissingParameter, Unauthorized
from management.events import service as events
from management.iam import service as iam
from management.iam.models import Account, Domain, Role, User

if TYPE_CHECKING:
    from management.api.native.dispatch import ApiReply, ApiRequest

SESSION_COMMANDS = ("login", "logout")
SESSION_COOKIE = "JSESSIONID"
KEY_COOKIE = "sessionkey"


def authenticate(session: Session, request: ApiRequest) -> Caller:
    if request.integration:
        return system_caller()
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id or "sessionkey" in request.params:
        return _session_caller(session, request, session_id)
    return _signed_caller(session, request.params)


def _signed_caller(session: Session, params: dict[str, str]) -> Caller:
    api_key = signing.find(params, "apikey")
    signature = params.get("signature")
    if not api_key or not signature:
        raise Unauthorized()
    problem = signing.check_expiry(params, config.get_bool(session, "enforce.post.requests.and.timestamps"))
    if problem:
        raise Unauthorized(f"unable to verify user credentials and/or request signature: {problem}")
    found = iam.api_key_caller(session, api_key)
    if found is None or not signing.signature_matches(params, found[1], signature):
        raise Unauthorized()
    return found[0]


def _session_caller(session: Session, request: ApiRequest, session_id: str | None) -> Caller:
    where = config.get_value(session, "api.sessionkey.check.locations") or "CookieAndParameter"
    cookie_key, param_key = request.cookies.get(KEY_COOKIE), request.params.get("sessionkey")
    if where == "CookieAndParameter":
        ok = cookie_key is not None and param_key is not None and cookie_key == param_key
        key = param_key
    elif where == "ParameterOnly":
        ok, key = param_key is not None, param_key
    else:
        key = param_key or cookie_key
        ok = key is not None and (cookie_key is None or param_key is None or cookie_key == param_key)
    row = iam.find_session(session, session_id) if session_id else None
    if row is None and not session_id and key and where != "CookieAndParameter":
        row = iam.find_session_by_key(session, key)
    if not ok or row is None or row.session_key != key:
        raise Unauthorized("unable to verify user credentials")
    try:
        return iam.active_caller(session, session.get(User, row.user_id))
    except Unauthorized:
        if not session.info.get("readonly"):
            session.delete(row)
        raise Unauthorized("unable to verify user credentials") from None


def session_command(name: str, request: ApiRequest, reply: ApiReply) -> dict:
    if name == "login":
        return _login(request, reply)
    return _logout(request, reply)


def _login(request: ApiRequest, reply: ApiReply) -> dict:
    if request.method != "POST":
        raise MethodNotAllowed("Please use HTTP POST to authenticate using this API")
    params = request.params
    username, password = params.get("username"), params.get("password")
    for param, value in (("username", username), ("password", password)):
        if not value:
            raise MissingParameter(command="login", param=param)
    with db.session() as session:
        domain = _login_domain(session, params)
        user = iam.login(session, username, password, domain)
        caller = iam.caller_for(session, user)
        timeout = config.get_int(session, "session.timeout") if "session.timeout" in config.CATALOG else 1800
        row = iam.open_session(session, user, timeout)
        account = session.get(Account, user.account_id)
        user_domain = session.get(Domain, account.domain_id)
        role = session.get(Role, account.role_id) if account.role_id else None
        events.record(session, caller, "USER.LOGIN", f"user has logged in from IP Address {request.remote}",
                      resource=user, resource_type="User")
        fields = {"username": user.username, "userid": user.uuid, "domainid": user_domain.uuid,
                  "timeout": row.timeout, "account": account.account_name, "firstname": user.firstname,
                  "lastname": user.lastname, "type": str(account.type), "timezone": user.timezone,
                  "registered": "false", "sessionkey": row.session_key, "is2faenabled": "false",
                  "issuerfor2fa": "CloudStack", "roleid": role.uuid if role else None}
        secure = config.get_bool(session, "enable.secure.session.cookie")
        samesite = (config.get_value(session, "api.sessionkey.cookie.samesite") or "Lax")
    samesite = None if samesite == "Null" else ("none" if samesite == "NoneAndSecure" else samesite.lower())
    reply.cookies.append((SESSION_COOKIE, row.session_id, {"path": "/client", "httponly": True, "secure": secure}))
    reply.cookies.append((KEY_COOKIE, row.session_key, {"path": "/", "httponly": True, "samesite": samesite,
                                                         "secure": secure or samesite == "none"}))
    return RawResponse({k: v for k, v in fields.items() if v is not None}).fields


def _login_domain(session: Session, params: dict[str, str]) -> Domain | None:
    domain_id = params.get("domainid") or params.get("domainId")
    if domain_id:
        domain = session.query(Domain).filter((Domain.uuid == domain_id) | (Domain.id == _int_or(domain_id))).first()
        if domain is None or domain.removed is not None:
            raise InvalidParameter(f"Unable to find domain with id {domain_id} (parameter domainid)")
        return domain
    path = params.get("domain")
    if path:
        domain = iam.find_domain_by_path(session, path)
        if domain is None:
            raise InvalidParameter(f"Unable to find the domain from the path {path} (parameter domain)")
        return domain
    return None


def _int_or(value: str) -> int:
    return int(value) if value.isdigit() else -1


def _logout(request: ApiRequest, reply: ApiReply) -> dict:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        with db.session() as session:
            row = iam.find_session(session, session_id)
            if row is not None:
                user = session.get(User, row.user_id)
                if user is not None:
                    events.record(session, iam.caller_for(session, user), "USER.LOGOUT", "user has logged out",
                                  resource=user, resource_type="User")
                iam.close_session(session, session_id)
    reply.cookies.append((SESSION_COOKIE, "", {"path": "/client", "max_age": 0}))
    reply.cookies.append((KEY_COOKIE, "", {"path": "/", "max_age": 0}))
    return {"description": "success"}

