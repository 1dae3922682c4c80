"""`makemessages` that also extracts `N_("…")`.

Services store timeline and history texts language-neutrally: the source text marked with
`gettext_noop`, imported as `N_`, and rendered in each reader's language. xgettext knows only the
names Django passes it, so without this keyword those texts never reached the catalogues and the
Chinese pages showed them in English.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=N_"]
