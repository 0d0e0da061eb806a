"""Streams a chat completion through Bouncer's gateway with the official OpenAI client, a
Bouncer API key (`bnc_...`) as the client's api_key. Prints the assembled reply, or the error's
class and status, on one line."""

import sys

from openai import OpenAI

base_url, api_key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
try:
    stream = client.chat.completions.create(
        model="test-model",
        messages=[{"role": "user", "content": "Say hello"}],
        stream=True,
    )
    print("REPLY:" + "".join((c.choices[0].delta.content or "") for c in stream if c.choices))
except Exception as error:  # the test reads the class and status
    print(f"ERROR:{type(error).__name__}:{getattr(error, 'status_code', '')}")
