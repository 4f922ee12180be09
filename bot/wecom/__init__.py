"""企业微信 (WeCom), the second channel: so far only the callback's security and URL verification
(docs/wecom.md). Message processing and sending come later."""
