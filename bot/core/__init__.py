"""The core every layer may import: the model, the error tree, text, the settings.

- `bot.core.model`: the frozen dataclasses that pass between stages.
- `bot.core.errors`: the one error tree, by meaning.
- `bot.core.text`: folding and tokenising (one fold, one tokenizer).
- `bot.core.sentences`: the one sentence splitter.
- `bot.core.settings`: the one settings object, read once at start-up.

It imports nothing else of newswatch.
"""
