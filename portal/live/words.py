"""Every word the live page's script shows, translated here and handed to it in the page's config
(`live_config.words`, a json_script block): static/portal/live/page.js looks them up by key and fills in
`{name}`-style placeholders itself. A placeholder's value is user-written (a name from TMI) and only ever
reaches the page as text."""

from __future__ import annotations

from django.utils.translation import gettext as _


def live_words() -> dict[str, str]:
    return {
        # Status and connection.
        "joining": _("Joining the live session…"),
        "live": _("Live"),
        "tmi_retrying": _("The connection to TMI dropped. Trying again (attempt {attempt} of 5) in {seconds} s…"),
        "tmi_lost": _("The connection to TMI is lost."),
        "tmi_connecting": _("Connecting to TMI…"),
        "portal_retrying": _("Connection to the portal lost. Reconnecting (attempt {attempt}) in {seconds} s…"),
        "unconfirmed_lost": _(
            "Some of your latest changes were not confirmed before the connection dropped and may be lost. "
            "The diagram now shows what TMI has."
        ),
        "change_undone": _("{message} Your change has been undone."),
        "change_not_accepted": _("TMI did not accept that change."),
        "not_live": _("TMI is not connected right now; try again in a moment."),
        "refused": _("The portal refused that request."),
        "signed_out": _(
            "You are no longer signed in to the portal, or no longer a member here. Reload the page to sign in again."
        ),
        "ended": _("The live session has ended."),
        # People and presenting.
        "someone": _("Someone"),
        "you_suffix": _("(you)"),
        "badge_host": _("host"),
        "badge_presenting": _("presenting"),
        "badge_watching": _("watching"),
        "badge_can_edit": _("can edit"),
        "badge_role_unknown": _("role not known"),
        "let_present": _("Let present"),
        "let_present_name": _("Let {name} present"),
        "nobody_here": _("Nobody else is here yet."),
        "you_present": _("You are presenting: the others see your pointer and what you select."),
        "someone_presents": _("{name} is presenting."),
        "asked_to_present": _("{name} asked to present."),
        "someone_asked_to_present": _("Someone asked to present."),
        "who_asked_unknown": _("TMI does not say who: use “Let present” beside their name."),
        "accept": _("Accept"),
        "decline": _("Decline"),
        "dismiss": _("Dismiss"),
        "you_asked": _("You asked the host to let you present."),
        "request_declined": _("The host declined your request to present (or the host is not connected)."),
        "host_left_still_here": _("{host} (the host) left. Still on this page when the session ended: {names}."),
        "host_left_alone": _("{host} (the host) left. Nobody else was still here."),
        # Undo and redo.
        "nothing_to_undo": _("There is nothing to undo."),
        "nothing_to_redo": _("There is nothing to redo."),
        "history_not_allowed": _("You are not allowed to undo or redo in this session."),
        "cannot_undo_offline": _("Cannot undo while the connection is down."),
        "cannot_redo_offline": _("Cannot redo while the connection is down."),
        # Editing.
        "new_actor": _("External actor"),
        "new_process": _("Process"),
        "new_store": _("Data store"),
        "new_boundary": _("Trust boundary"),
        "new_flow": _("Data flow"),
        "flow_pick_source": _("Click the shape the data comes from."),
        "flow_pick_target": _("Now click the shape the data goes to."),
        "new_name": _("New name for {name}"),
        "connect_heading": _("Connect {name} to:"),
        "cancel": _("Cancel"),
        "shape_label": _("{name}, {kind}"),
        "flow_label": _("{name}, data flow from {source} to {target}"),
        "kind_actor": _("external actor"),
        "kind_process": _("process"),
        "kind_store": _("data store"),
        "kind_boundary": _("trust boundary"),
        "kind_text": _("note"),
        "kind_flow": _("data flow"),
        "kind_unknown": _("shape"),
        # Announced to screen readers.
        "announce_added": _("Added {name}"),
        "announce_moved": _("Moved {name}"),
        "announce_renamed": _("Renamed {old} to {name}"),
        "announce_connected": _("Connected {source} to {target}"),
        "announce_deleted": _("Deleted {name}"),
        # The view.
        "full_screen": _("Full screen"),
        "leave_full_screen": _("Leave full screen"),
    }
