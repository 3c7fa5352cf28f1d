"""The People pages: the table (search, filters, sort, keyset pages), a new person, CSV import, a person.

They call the same People functions as the API and `appliance users`. Forms post back and redirect
(``?done=…`` says what happened), except where a secret is shown once (a new password or sign-up
link), which is rendered in the POST's answer and never stored or put in an address.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from appliance.admin import csv_import
from appliance.admin.errors import AdminError
from appliance.admin.guard import Admin, AdminGuard
from appliance.admin.pages import render_admin
from appliance.admin.people import NewPerson, People
from appliance.admin.people_api import query_of
from appliance.admin.person import PersonFacts
from appliance.errors import ApplianceError
from appliance.identity.directory import SORT_KEYS

SORT_LABELS = {"username": "Username", "name": "Name", "created": "Created", "last_login": "Last sign-in"}
DONE = {"disabled": "Disabled: their sessions and tokens ended, and their hub is stopping their server.",
        "enabled": "Enabled: they can sign in again.", "signed-out": "Signed out everywhere.",
        "stopped": "Their server is stopping.",
        "moved": "Moved: their server was stopped, and their next visit starts it on the new hub.",
        "admin-granted": "They are now an administrator.", "admin-revoked": "They are no longer an administrator.",
        "groups": "Groups saved."}
MAX_UPLOAD_BYTES = csv_import.MAX_BYTES


def person_url(username: str) -> str:
    return f"/admin/people/{quote(username, safe='')}"


class PeoplePages:
    def __init__(self, guard: AdminGuard, people: People, facts: PersonFacts):
        self.guard = guard
        self.people = people
        self.facts = facts

    def routes(self) -> list[Route]:
        page = self.guard.page
        return [
            Route("/admin/people", page(self.table), name="admin_people"),
            Route("/admin/people/new", page(self.new), methods=["GET", "POST"], name="admin_people_new"),
            Route("/admin/people/import", page(self.import_csv), methods=["GET", "POST"], name="admin_people_import"),
            Route("/admin/people/{username}", page(self.person), name="admin_person"),
            Route("/admin/people/{username}/{action}", page(self.act), methods=["POST"], name="admin_person_act"),
        ]

    # ----- the table ----------------------------------------------------------------------------------

    async def table(self, request: Request, admin: Admin) -> Response:
        query = query_of(request)
        page, groups = await run_in_threadpool(lambda: (self.people.search(query), self.people.groups()))
        params = {key: value for key, value in request.query_params.items() if key != "after" and value}

        def link(**changes: str) -> str:
            wanted = {key: value for key, value in {**params, **changes}.items() if value}
            return "/admin/people" + (f"?{urlencode(wanted)}" if wanted else "")

        return render_admin(request, admin, "admin/people.html", "people", page=page, query=query, groups=groups,
                            link=link, sorts=[(key, SORT_LABELS[key]) for key in SORT_KEYS],
                            first_page=not query.after)

    # ----- a new person -------------------------------------------------------------------------------

    async def new(self, request: Request, admin: Admin) -> Response:
        if request.method == "GET":
            return render_admin(request, admin, "admin/new_person.html", "people", form={})
        form = {key: str(value) for key, value in (await request.form()).items() if isinstance(value, str)}
        person = NewPerson(form.get("username", ""), form.get("name", ""), form.get("email", ""),
                           tuple(form.get("groups", "").replace(",", " ").split()), form.get("admin") == "yes")
        try:
            access = await run_in_threadpool(self.people.create, admin.audit_actor, person,
                                            form.get("how", "password"))
        except ApplianceError as error:
            return render_admin(request, admin, "admin/new_person.html", "people", status_code=400, form=form,
                                error=error.message)
        return render_admin(request, admin, "admin/created.html", "people", access=access)

    # ----- CSV import ---------------------------------------------------------------------------------

    async def import_csv(self, request: Request, admin: Admin) -> Response:
        if request.method == "GET":
            return render_admin(request, admin, "admin/import.html", "people", example=csv_import.EXAMPLE)
        form = await request.form()
        text = str(form.get("csv", ""))
        upload = form.get("file")
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(MAX_UPLOAD_BYTES + 1)
            text = data.decode("utf-8", errors="replace")
        how, apply = str(form.get("how", "link")), form.get("step") == "apply"
        try:
            if apply:
                report = await run_in_threadpool(csv_import.apply, self.people, admin.audit_actor, text, how)
            else:
                report = await run_in_threadpool(csv_import.plan, self.people, text)
        except ApplianceError as error:
            return render_admin(request, admin, "admin/import.html", "people", status_code=400, csv=text,
                                error=error.message, example=csv_import.EXAMPLE, how=how)
        return render_admin(request, admin, "admin/import.html", "people", csv=text, report=report,
                            example=csv_import.EXAMPLE, how=how)

    # ----- a person -----------------------------------------------------------------------------------

    async def person(self, request: Request, admin: Admin, status_code: int = 200, **context: Any) -> Response:
        account = await run_in_threadpool(self.people.get, request.path_params["username"])
        view = await self.facts.view(account)
        done = DONE.get(request.query_params.get("done", ""))
        return render_admin(request, admin, "admin/person.html", "people", status_code=status_code, view=view,
                            done=done, hubs=self.facts.servers.hub_ids(), **context)

    async def act(self, request: Request, admin: Admin) -> Response:
        username, action = request.path_params["username"], request.path_params["action"]
        form = {key: str(value) for key, value in (await request.form()).items() if isinstance(value, str)}
        actor = admin.audit_actor
        people = self.people
        try:
            if action == "password":
                access = await run_in_threadpool(people.reset_password, actor, username, form.get("how", "password"))
                return await self.person(request, admin, access=access)
            if action in ("stop-server", "move"):
                account = await run_in_threadpool(people.get, username)
                if action == "move":
                    await self.facts.move(actor, account, form.get("hub", ""))
                else:
                    await self.facts.stop(actor, account)
                done = "stopped" if action == "stop-server" else "moved"
            else:
                done = await run_in_threadpool(self._change, actor, username, action, form)
        except AdminError as error:
            if error.status == 404:
                raise
            return await self.person(request, admin, status_code=error.status, error=error.message)
        except ApplianceError as error:
            return await self.person(request, admin, status_code=400, error=error.message)
        return RedirectResponse(f"{person_url(username)}?done={done}", status_code=303)

    def _change(self, actor: Any, username: str, action: str, form: dict[str, str]) -> str:
        """Make the change the action names; returns what to say it did (a DONE key)."""
        people = self.people
        if action == "disable":
            people.disable(actor, username)
            return "disabled"
        if action == "enable":
            people.enable(actor, username)
            return "enabled"
        if action == "sign-out":
            people.sign_out_everywhere(actor, username)
            return "signed-out"
        if action == "admin":
            granted = form.get("admin") == "yes"
            people.set_admin(actor, username, granted)
            return "admin-granted" if granted else "admin-revoked"
        if action == "groups":
            people.set_groups(actor, username, form.get("groups", "").replace(",", " ").split())
            return "groups"
        raise AdminError(f"there is no action {action!r} on a person.", status=404)
