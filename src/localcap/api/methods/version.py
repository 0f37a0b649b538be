"""Export REDCap Version: plain text such as ``16.1.3``."""

from starlette.responses import PlainTextResponse, Response

from localcap import REDCAP_VERSION
from localcap.api.context import ApiContext


def export_version(ctx: ApiContext) -> Response:
    return PlainTextResponse(REDCAP_VERSION, media_type="text/html")
