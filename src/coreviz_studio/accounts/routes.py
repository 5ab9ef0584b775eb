"""Who am I, and which organizations am I in."""

from __future__ import annotations

from fastapi import APIRouter

from coreviz_studio.accounts import service
from coreviz_studio.accounts.schemas import MeOut, OrganizationOut
from coreviz_studio.deps import CurrentPrincipal, Db

router = APIRouter(prefix="/api", tags=["identity"])


@router.get("/me", response_model=MeOut)
def get_me(db: Db, principal: CurrentPrincipal) -> MeOut:
    me = service.me(db, principal)
    return MeOut(user_id=me.user.id, email=me.user.email, name=me.user.name,
                 organization_id=me.organization.id, organization_name=me.organization.name,
                 role=me.role)


@router.get("/auth/organization/list", response_model=list[OrganizationOut])
def list_organizations(db: Db, principal: CurrentPrincipal) -> list[OrganizationOut]:
    return [OrganizationOut(id=org.id, name=org.name, slug=org.slug, role=role,
                            created_at=org.created_at)
            for org, role in service.organizations_of(db, principal.user_id)]
