"""The document's head and ``GlobalVariables``: settings, repeating setup, DAGs, surveys and
the survey queue, user roles and reports, in REDCap's order and spelling.
"""

from __future__ import annotations

import hashlib
from typing import Any

from localcap import REDCAP_VERSION
from localcap.projectxml.exporter.context import ScopedWriter
from localcap.projectxml.exporter.xmltext import attr, text
from localcap.projectxml.roles import role_attrs
from localcap.projectxml.vocabulary import (
    INFO_SETTINGS,
    SETTING_DEFAULTS,
    XML_SETTINGS_KEY,
)

NAMESPACES = (
    'xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:redcap="https://projectredcap.org" '
    'xsi:schemaLocation="http://www.cdisc.org/ns/odm/v1.3 schema/odm/ODM1-3-1.xsd"'
)
#: GlobalVariables settings in REDCap's order (REDCap 15's doctest project).
SETTINGS_ORDER = (
    "redcap:RecordAutonumberingEnabled",
    "redcap:CustomRecordLabel",
    "redcap:SecondaryUniqueField",
    "redcap:SecondaryUniqueFieldDisplayValue",
    "redcap:SecondaryUniqueFieldDisplayLabel",
    "redcap:SchedulingEnabled",
    "redcap:SurveysEnabled",
    "redcap:SurveyInvitationEmailField",
    "redcap:RandomizationEnabled",
    "redcap:DisplayTodayNowButton",
    "redcap:PreventBranchingEraseValues",
    "redcap:RequireChangeReason",
    "redcap:DataHistoryPopup",
    "redcap:OrderRecordsByField",
    "redcap:taskCompleteStatus",
    "redcap:MyCapEnabled",
    "redcap:Purpose",
    "redcap:PurposeOther",
    "redcap:ProjectNotes",
    "redcap:SurveyQueueCustomText",
    "redcap:SurveyQueueHide",
    "redcap:MissingDataCodes",
    "redcap:ProtectedEmailMode",
    "redcap:ProtectedEmailModeCustomText",
    "redcap:ProtectedEmailModeTrigger",
    "redcap:ProtectedEmailModeLogo",
)
INFO_DEFAULTS = {"redcap:DisplayTodayNowButton": "1"}


class GlobalVariablesWriter(ScopedWriter):
    """The ``ODM`` and ``Study`` openings and ``GlobalVariables``."""

    def head(self) -> str:
        p = self.project
        title = p.project_title
        return (
            '<?xml version="1.0" encoding="UTF-8" ?>\n'
            f'<ODM {NAMESPACES} ODMVersion="1.3.1" FileOID="000-00-0000" FileType="Snapshot" '
            f"Description={attr(title)} AsOfDateTime={attr(self.scope.stamp)} "
            f'CreationDateTime={attr(self.scope.stamp)} SourceSystem="REDCap" '
            f"SourceSystemVersion={attr(REDCAP_VERSION)}>\n"
            f"<Study OID={attr('Project.' + self.scope.name)}>\n"
            "<GlobalVariables>\n"
            f"\t<StudyName>{text(title)}</StudyName>\n"
            "\t<StudyDescription>This file contains the metadata, events, and data for REDCap "
            f"project &quot;{text(title)}&quot;.</StudyDescription>\n"
            f"\t<ProtocolName>{text(title)}</ProtocolName>\n"
            + self._settings()
            + self._repeating()
            + self._dags()
            + self._surveys()
            + self._roles()
            + self._reports()
            + "</GlobalVariables>\n"
        )

    def _settings(self) -> str:
        p = self.project
        info = p.info
        kept: dict[str, str] = dict(info.get(XML_SETTINGS_KEY) or {})
        by_element = {element: key for element, key in INFO_SETTINGS.items()}
        out = []
        names = list(SETTINGS_ORDER) + [n for n in kept if n not in SETTINGS_ORDER]
        for name in names:
            if name == "redcap:SurveysEnabled":
                value: Any = int(any(f.survey_enabled for f in p.forms)) or info.get(
                    "surveys_enabled", 0
                )
            elif name in by_element:
                value = info.get(by_element[name], INFO_DEFAULTS.get(name, ""))
                if value in ("", None) and name in INFO_DEFAULTS:
                    value = INFO_DEFAULTS[name]
                if name in ("redcap:Purpose",) and value in ("", None):
                    value = 0
            else:
                value = kept.get(name, SETTING_DEFAULTS.get(name, "0" if "Enabled" in name else ""))
            out.append(f"\t<{name}>{text(value)}</{name}>\n")
        return "".join(out)

    def _repeating(self) -> str:
        p = self.project
        if not p.repeating:
            return ""
        names = {e.event_id: e.unique_event_name for e in p.events}
        default_event = "event_1_arm_1"
        instruments, events = [], []
        order = {e.event_id: i for i, e in enumerate(p.events)}
        forms = {f.form_name: i for i, f in enumerate(p.forms)}
        for (event_id, form), label in sorted(
            p.repeating.items(), key=lambda kv: (order.get(kv[0][0], 0), forms.get(kv[0][1], -1))
        ):
            event = names.get(event_id, default_event)
            if form:
                instruments.append(
                    f"\t\t\t<redcap:RepeatingInstrument redcap:UniqueEventName={attr(event)} "
                    f"redcap:RepeatInstrument={attr(form)} redcap:CustomLabel={attr(label)}/>\n"
                )
            else:
                events.append(
                    f"\t\t<redcap:RepeatingEvent redcap:UniqueEventName={attr(event)}/>\n"
                )
        body = "".join(events)
        if instruments:
            body += (
                "\t\t<redcap:RepeatingInstruments>\n"
                + "".join(instruments)
                + "\t\t</redcap:RepeatingInstruments>\n"
            )
        return (
            "\t<redcap:RepeatingInstrumentsAndEvents>\n"
            + body
            + "\t</redcap:RepeatingInstrumentsAndEvents>\n"
        )

    def _dags(self) -> str:
        if not self.project.dags:
            return ""
        items = "".join(
            f"\t\t<redcap:DataAccessGroups group_name={attr(d.group_name)}/>\n"
            for d in self.project.dags
        )
        return f"\t<redcap:DataAccessGroupsGroup>\n{items}\t</redcap:DataAccessGroupsGroup>\n"

    def _surveys(self) -> str:
        """Each survey's settings as they were imported or set (``localcap survey enable``)."""
        forms = [f for f in self.project.forms if f.survey_enabled]
        if not forms:
            return ""
        items = []
        for f in forms:
            survey = self.ctx.surveys.get(f.form_name)
            settings: dict[str, Any] = {"title": f.form_label, "survey_enabled": "1"}
            settings.update(survey.settings if survey else {})
            settings["survey_enabled"] = "1"
            items.append(
                f"\t\t<redcap:Surveys form_name={attr(f.form_name)} "
                + " ".join(f"{k}={attr(v)}" for k, v in settings.items())
                + "/>\n"
            )
        out = f"\t<redcap:SurveysGroup>\n{''.join(items)}\t</redcap:SurveysGroup>\n"
        names = {e.event_id: e.unique_event_name for e in self.project.events}
        queue = [
            "\t\t<redcap:SurveysQueue "
            + " ".join(f"{k}={attr(v)}" for k, v in settings.items())
            + f" event_id={attr(names.get(event_id, ''))} survey_id={attr(form)}/>\n"
            for event_id, form, settings in self.ctx.survey_queue
            if form in self.project.form_by_name and self.project.form_by_name[form].survey_enabled
        ]
        if queue:
            out += f"\t<redcap:SurveysQueueGroup>\n{''.join(queue)}\t</redcap:SurveysQueueGroup>\n"
        return out

    def _roles(self) -> str:
        if not self.ctx.roles:
            return ""
        items = "".join(
            "\t\t<redcap:UserRoles "
            + " ".join(
                f"{name}={attr(value)}"
                for name, value in role_attrs(
                    role.role_label, role.unique_role_name, role.rights, self.project
                )
            )
            + "/>\n"
            for role in self.ctx.roles
        )
        return f"\t<redcap:UserRolesGroup>\n{items}\t</redcap:UserRolesGroup>\n"

    def _reports(self) -> str:
        reports = self.ctx.reports
        if not reports:
            return ""
        out = ["\t<redcap:ReportsGroup>\n"]
        for order, r in enumerate(reports, start=1):
            sorts = list(r.order_by) + [None] * (3 - len(r.order_by))
            access = r.user_access
            a: list[tuple[str, Any]] = [
                ("title", r.title),
                ("unique_report_name", r.unique_report_name),
                ("report_order", order),
                ("user_access", "ALL" if access == "all" else "SELECTED"),
                ("user_edit_access", "ALL"),
                ("description", r.description),
                ("combine_checkbox_values", int(r.combine_checkbox_values)),
                ("output_dags", int(r.output_dags)),
                ("output_survey_fields", int(r.output_survey_fields)),
                ("output_missing_data_codes", 0),
                ("remove_line_breaks_in_values", int(r.remove_line_breaks)),
            ]
            for n, s in enumerate(sorts[:3], start=1):
                a.append((f"orderby_field{n}", s.field if s else ""))
                a.append((f"orderby_sort{n}", s.direction if s else ""))
            a += [
                ("advanced_logic", r.filter_logic),
                ("filter_type", r.filter_type),
                ("dynamic_filter1", ""),
                ("dynamic_filter2", ""),
                ("dynamic_filter3", ""),
                ("hash", ""),
                ("short_url", ""),
                ("is_public", 0),
                ("report_display_include_repeating_fields", int(r.include_repeating)),
                ("report_display_header", "BOTH"),
                ("report_display_data", "BOTH"),
                ("limiter_logic", r.filter_logic),
                ("redcap_reports_fields", ",".join(r.fields)),
                ("redcap_reports_filter_dags", ",".join(r.filter_dags)),
                ("redcap_reports_filter_events", ",".join(r.filter_events)),
            ]
            if access != "all":
                for kind in ("users", "roles", "dags"):
                    a.append((f"redcap_reports_user_access_{kind}", ",".join(access.get(kind, []))))
            digest = hashlib.sha1(  # noqa: S324 - an identifier, not security
                f"{r.unique_report_name}\0{r.title}".encode()
            ).hexdigest()
            a.append(("ID", digest))
            out.append("\t\t<redcap:Reports " + " ".join(f"{k}={attr(v)}" for k, v in a) + "/>\n")
        out.append("\t</redcap:ReportsGroup>\n")
        return "".join(out)
