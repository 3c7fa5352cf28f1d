"""Process supervision: child specs as data, ordered start, health, back-off, control socket."""

from appliance.supervisor.control import ControlServer, SupervisorClient, send_command
from appliance.supervisor.core import Supervisor
from appliance.supervisor.ports import inherited_sockets
from appliance.supervisor.process import MARKER
from appliance.supervisor.settings import SupervisorSettings
from appliance.supervisor.spec import CheckFailed, ChildSpec, StartFailed

__all__ = ["MARKER", "CheckFailed", "ChildSpec", "ControlServer", "StartFailed", "Supervisor", "SupervisorClient",
           "SupervisorSettings", "inherited_sockets", "send_command"]
