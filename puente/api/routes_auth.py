"""Login, logout, who am I, and account administration."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from puente.api import auth
from puente.api.auth import Principal
from puente.api.context import Ctx, ctx, principal
from puente.api.policy import require_role
from puente.api.problems import problem_responses

router = APIRouter(prefix="/api/v1", tags=["auth"])


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class Me(BaseModel):
    username: str
    role: Literal["analyst", "steward", "admin", "partner-node"]
    partner: str | None = None
    node: str
    country: str


class Session(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: Me


class User(BaseModel):
    username: str
    role: str
    partner: str | None = None
    failed_logins: int
    locked_until: str | None = None
    disabled: bool


def _me(c: Ctx, who: Principal) -> Me:
    return Me(username=who.username, role=who.role, partner=who.partner, node=c.node.name,  # type: ignore[arg-type]
              country=c.node.country)


@router.post("/auth/login", response_model=Session, responses=problem_responses(401))
def login(body: Login, c: Ctx = Depends(ctx)) -> Session:
    """Exchange a username and password for a session token (expires; repeated failures lock the account).

    Every refusal is the same 401, whether the user is unknown, the password wrong or the account locked."""
    from puente.settings import setting

    token, who = auth.login(c.store, body.username, body.password)
    return Session(token=token, expires_in=int(setting("session_minutes")) * 60, user=_me(c, who))


@router.post("/auth/logout", status_code=204, responses=problem_responses(401))
def logout(request: Request, c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> Response:
    """Revoke the token used for this request."""
    token = request.headers.get("authorization", "").split(" ", 1)[-1].strip()
    auth.revoke(c.store, token)
    return Response(status_code=204)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


@router.post("/auth/password", status_code=204, responses=problem_responses(400, 401, 403))
def change_password(body: PasswordChange, c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> Response:
    """Change your own password (the current one is required). Every session and API token of the account,
    this one included, is revoked: log in again with the new password."""
    require_role(who, "analyst", "steward", "admin")
    auth.change_password(c.store, who.username, body.old_password, body.new_password)
    return Response(status_code=204)


@router.get("/me", response_model=Me, responses=problem_responses(401))
def me(c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> Me:
    """The account behind the token."""
    return _me(c, who)


@router.get("/users", response_model=list[User], responses=problem_responses(401, 403))
def users(c: Ctx = Depends(ctx), who: Principal = Depends(principal)) -> list[User]:
    """Accounts of this node (admin only). Password and token hashes are never returned."""
    require_role(who, "admin")
    return [User(username=u, role=r, partner=p, failed_logins=f, locked_until=str(lk) if lk else None, disabled=d)
            for u, r, p, f, lk, d in auth.list_users(c.store)]
