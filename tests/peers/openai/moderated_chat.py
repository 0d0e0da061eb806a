"""Streams a chat completion of one user message through Bouncer with the official OpenAI
client, a Bouncer access token as the API key. Prints the assembled reply, or the error's
class, status and message, on one line."""

import sys

from openai import OpenAI

base_url, api_key, text = sys.argv[1], sys.argv[2], sys.argv[3]
client = OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
try:
    stream = client.chat.completions.create(
        model="test-model",
        messages=[{"role": "user", "content": text}],
        stream=True,
    )
    print("REPLY:" + "".join((c.choices[0].delta.content or "") for c in stream if c.choices))
except Exception as error:  # the test reads the class, status and message
    body = getattr(error, "body", None)
    message = body.get("message", "") if isinstance(body, dict) else ""
    print(f"ERROR:{type(error).__name__}:{getattr(error, 'status_code', '')}:{message}")
