"""Who is trying, as far as the lockout is concerned: the client address and, from the
device cookie, which accounts this browser completed a sign-in to before."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..lockout.regulator import Attempt


@dataclass(frozen=True)
class Browser:
    ip: str
    #: The device cookie's id, if the browser has a valid one.
    device: str | None = None
    #: account_key()s this browser signed in to: its attempts for them have their own counter.
    trusted_accounts: frozenset[str] = field(default_factory=frozenset)

    def trusts(self, account: str | None) -> bool:
        return account is not None and self.device is not None and account in self.trusted_accounts

    def attempt(self, account: str | None, *, second_factor: bool = False) -> Attempt:
        device = self.device if self.trusts(account) else None
        return Attempt(account=account, ip=self.ip, device=device, second_factor=second_factor)
