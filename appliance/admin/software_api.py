"""The console's Software section over HTTP: the admin API's environment routes (gathered into /api/admin/v1 by
api.py) and the /admin/software page, whose script (webui/static/admin-software.js) starts changes through the
API with the session's CSRF token and follows their jobs:

    GET  /environments                       {"environments": [environment…], "jobs": [job…]} (newest job first)
    POST /environments                       {"name"}: make a new environment, a kernel for everyone → 202 {"job"}
    POST /environments/{name}/packages       {"packages": [requirement…]}: install → 202 {"job"}
    POST /environments/{name}/packages/remove {"packages": [name…]}: uninstall → 202 {"job"}
    GET  /environments/jobs/{job_id}         {"job"}: its state and pip's lines so far
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from appliance.admin.api import PREFIX, ApiRoute, Schema, json_body
from appliance.admin.errors import AdminError
from appliance.admin.guard import Admin, AdminGuard
from appliance.admin.pages import render_admin
from appliance.admin.software import Job, SoftwareConsole

PACKAGES: Schema = {"type": "object", "required": ["packages"], "properties": {
    "packages": {"type": "array", "items": {"type": "string"}, "minItems": 1}}}
JOB: Schema = {"type": "object", "properties": {
    "id": {"type": "integer"}, "action": {"enum": ["add", "remove", "create"]}, "env": {"type": "string"},
    "packages": {"type": "array", "items": {"type": "string"}}, "state": {"enum": ["running", "succeeded", "failed"]},
    "lines": {"type": "array", "items": {"type": "string"}}, "error": {"type": "string"},
    "started": {"type": "number"}, "ended": {"type": ["number", "null"]}}}
ONE_JOB: Schema = {"type": "object", "properties": {"job": JOB}}
ENVIRONMENTS: Schema = {"type": "object", "properties": {
    "environments": {"type": "array", "items": {"type": "object", "properties": {
        "name": {"type": "string"}, "kernel": {"type": "string"}, "display_name": {"type": "string"},
        "python": {"type": "string"}, "packages": {"type": "array", "items": {"type": "object"}}}}},
    "jobs": {"type": "array", "items": JOB}}}


class SoftwareAPI:
    def __init__(self, guard: AdminGuard, software: SoftwareConsole):
        self.guard = guard
        self.software = software

    def routes(self) -> list[ApiRoute]:
        return [
            ApiRoute("GET", "/environments", self.list, "The members' shared environments and recent changes",
                     "software", response=ENVIRONMENTS),
            ApiRoute("POST", "/environments", self.create, "Make a new shared environment", "software",
                     body={"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
                     response=ONE_JOB, status=202,
                     description="A venv with ipykernel; its kernel appears in every member's launcher."),
            ApiRoute("POST", "/environments/{name}/packages", self.add, "Install packages into an environment",
                     "software", body=PACKAGES, response=ONE_JOB, status=202,
                     description="pip requirements (pandas, numpy>=2). A failed install leaves it as it was; "
                                 "members' new kernels see the change, without restarting their servers."),
            ApiRoute("POST", "/environments/{name}/packages/remove", self.remove, "Uninstall packages",
                     "software", body=PACKAGES, response=ONE_JOB, status=202),
            ApiRoute("GET", "/environments/jobs/{job_id}", self.job, "One change: its state and pip's output",
                     "software", response=ONE_JOB),
        ]

    def page_routes(self) -> list[Route]:
        return [Route("/admin/software", self.guard.page(self.page), name="admin_software")]

    async def page(self, request: Request, admin: Admin) -> Response:
        return render_admin(request, admin, "admin/software.html", "software", api=PREFIX,
                            environments=await self.software.environments_json(), jobs=self.software.jobs()[:5],
                            csrf=self.guard.csrf_token(admin.session) if admin.session else "")

    async def list(self, request: Request, admin: Admin) -> Response:
        return JSONResponse({"environments": await self.software.environments_json(),
                             "jobs": [job.to_json() for job in self.software.jobs()]})

    async def create(self, request: Request, admin: Admin) -> Response:
        body = await json_body(request)
        return self._started(self.software.start("create", str(body.get("name", "")), [], admin.audit_actor))

    async def add(self, request: Request, admin: Admin) -> Response:
        return self._started(self.software.start("add", request.path_params["name"], await _packages(request),
                                                 admin.audit_actor))

    async def remove(self, request: Request, admin: Admin) -> Response:
        return self._started(self.software.start("remove", request.path_params["name"], await _packages(request),
                                                 admin.audit_actor))

    async def job(self, request: Request, admin: Admin) -> Response:
        job_id = request.path_params["job_id"]
        if not job_id.isdigit():
            raise AdminError(f"{job_id!r} is not a job number.", status=404)
        return JSONResponse({"job": self.software.job(int(job_id)).to_json()})

    @staticmethod
    def _started(job: Job) -> Response:
        return JSONResponse({"job": job.to_json()}, status_code=202)


async def _packages(request: Request) -> list[str]:
    packages = (await json_body(request)).get("packages")
    if not isinstance(packages, list) or not all(isinstance(package, str) for package in packages):
        raise AdminError('"packages" must be a list of requirements, e.g. ["pandas", "numpy>=2"].')
    return [package.strip() for package in packages if package.strip()]
