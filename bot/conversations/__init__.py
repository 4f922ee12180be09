"""Channel-neutral forms (steps, prompts, choices, validation) rendered by the Telegram layer."""
