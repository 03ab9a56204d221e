# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: a customer's DCImanager account.

Not a public API: it may change in any release without notice.
"""

from __future__ import annotations

from .._dci.errors import DCIError
from .._dci.panel import CUSTOMER_LEVEL
from .._writes import NOT_SHOWN
from .errors import OperationFailed


def represent(user):
    if user is None:
        return None
    return {"id": user.get("id"), "name": user.get("name"), "level": int(user.get("level") or 0)}


class Account:
    """The customer account ``name``; ``present()`` / ``absent()`` fill ``user``, ``before``, ``after``, ``changed``;
    ``present()`` also ``row``: the account as the panel lists it (``id``, ``name``, ``level``), for the steps after it."""

    def __init__(self, panel, name, password=None, update_password="on_create"):
        self.panel = panel
        self.name = name
        self.password = password
        self.update_password = update_password
        self.changed = False
        self.user = None
        self.row = None
        self.before = {}
        self.after = {}

    def get(self, fresh=True):
        user = self.panel.find_user(self.name, fresh=fresh)
        if user is not None and user.get("level") != CUSTOMER_LEVEL:
            raise OperationFailed(
                "login %s belongs to a panel account of level %s, not a customer (level %s); dci_user manages customer accounts only"
                % (user["name"], user.get("level"), CUSTOMER_LEVEL)
            )
        return user

    def _create(self):
        """Create the account; returns it, or None when another run created it meanwhile."""
        if not self.password:
            raise OperationFailed("password is required to create the account %s" % self.name)

        def read_back():
            user = self.panel.find_user(self.name)
            return {"id": user.get("id")} if user is not None else NOT_SHOWN

        try:
            answer = self.panel.write("user.edit", read_back, "the account %s" % self.name, level="lvUser", name=self.name, passwd=self.password)
        except DCIError as exc:
            if exc.error_type != "exists":
                raise
            return None
        self.changed = True
        user = {"id": None, "name": self.name, "level": CUSTOMER_LEVEL}
        if answer is not None:
            # A create answers the new id; an answer without one is read back.
            user["id"] = answer.get("id") or (self.get() or {}).get("id")
            if not user["id"]:
                raise OperationFailed(
                    "DCImanager answered the creation of account %s without its id, and its user list does not show the account; "
                    "check the panel's accounts, then re-run the task" % self.name
                )
        return user

    def _set_password(self, user):
        if self.update_password != "always" or not self.password:
            return
        client = self.panel.client
        if client.check_login(self.name, self.password):
            return

        def read_back():
            return {} if client.check_login(self.name, self.password) else NOT_SHOWN

        self.changed = True
        self.panel.write("user.edit", read_back, "the new password of %s" % self.name, elid=user["id"], passwd=self.password, confirm=self.password)
        # The password itself never goes into the diff; only that it changed.
        self.before["password"] = "(old)"
        self.after["password"] = "(changed)"

    def present(self):
        # The first look may come from the run's one read of the user list (fleet_apply): an account created since is
        # answered "exists" by the create, which then reads it fresh, below.
        user = self.get(fresh=False)
        created = self._create() if user is None else None
        if user is None and created is None:
            # Another run created the account between the look and the create (two orders of one
            # client converged in parallel): carry on with it as if it had been there.
            user = self.get()
            if user is None:
                raise OperationFailed("DCImanager says the account %s exists but does not list it" % self.name)
        self.before = {"state": "absent"} if created else {"state": "present", **represent(user)}
        if created:
            user = created
        else:
            self._set_password(user)
        self.row = user
        self.user = represent(user)
        self.after.update({"state": "present", **self.user})
        return self

    def absent(self):
        user = self.get()
        if user is None:
            self.before = self.after = {"state": "absent"}
            return self
        self.before = {"state": "present", **represent(user)}
        # The owner column may hold the login or the account id: both count.
        owned = [row for row in self.panel.servers() if self.panel.owned_by(row, self.name)]
        if owned:
            raise OperationFailed(
                "the account %s still owns %d server(s): %s; release them (dci_server_release) before deleting it"
                % (self.name, len(owned), ", ".join("%s (id %s)" % (row.get("hostname") or row.get("name"), row["id"]) for row in owned))
            )
        self.changed = True
        self.panel.write("user.delete", lambda: {} if self.panel.find_user(self.name) is None else NOT_SHOWN, "the deletion of %s" % self.name, elid=user["id"])
        self.after = {"state": "absent"}
        return self
