"""Whether a server answers, asked once with a hard time limit, so that nothing waits on a
network that is not there (W&B, the Hugging Face hub)."""

from __future__ import annotations

import ssl
import threading
import urllib.error
import urllib.request


def unreachable(url: str, timeout: float) -> str | None:
    """Why the server at ``url`` cannot be reached, or None when it answers.

    One HTTP ``HEAD`` request (through the proxy the environment names), given ``timeout``
    seconds in all, name lookup included: compute nodes without a network often fail only
    after long DNS or connection timeouts. Any HTTP answer, an error status or a TLS
    failure included, means the server is reachable.
    """
    outcome: list[str | None] = []
    no_answer = f"no answer within {timeout:g} s"

    def ask() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
            outcome.append(None)
        except urllib.error.HTTPError:
            outcome.append(None)  # an answer
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                outcome.append(no_answer)
            else:
                outcome.append(None if isinstance(error.reason, ssl.SSLError) else str(error.reason))
        except TimeoutError:  # the request's own limit, reached just before the wait's below
            outcome.append(no_answer)
        except (OSError, ValueError) as error:
            outcome.append(str(error) or type(error).__name__)

    thread = threading.Thread(target=ask, name="reachable", daemon=True)  # a hung name lookup is left behind
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else no_answer
