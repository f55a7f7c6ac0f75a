"""An actor that handles one message and then stops itself (threadmsg's quick start).

threadmsg calls a thread function that pulls a message and returns ``-1`` to stop. Here
the message is a method call; the handler asks the actor to stop, and the main thread
waits on the actor's ``stopped`` signal (the ``t.join()`` of threadmsg).
"""

# Mirrors: seed 000, "Quick start"
# Mirrors: seed 000, "1 · Simple message passing"

from __future__ import annotations

import threaded_async as ta


class Receiver(ta.Actor):
    def receive(self, msg: str) -> None:
        print("received:", msg)
        self.request_stop()  # threadmsg's `return -1`: stop after the first message


def main() -> None:
    actor = Receiver().start()  # the actor owns its own loop thread
    actor.tell("receive", "hello")
    actor.stopped.wait(10)
    actor.stop()  # joins the actor's runner; harmless after it stopped itself
    print("stopped:", actor.stopped.is_set())


if __name__ == "__main__":
    main()

# Expected output:
# received: hello
# stopped: True
