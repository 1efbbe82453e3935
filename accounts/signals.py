"""What happens to accounts, announced to the apps above (which may not be imported here).

Each signal is sent after the change it announces, inside the same
transaction, so a receiver's writes commit or roll back with it.
"""

from django.dispatch import Signal

# A new account exists; kwargs: account. (browsers gives it a profile.)
account_created = Signal()
# A platform asked for a person to log in and the account was paused for it;
# kwargs: account, reason. (monitoring raises an alert.)
account_login_required = Signal()
