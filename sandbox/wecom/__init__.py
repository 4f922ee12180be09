"""A local 企业微信 (WeCom) server API emulator with simulated members (docs/wecom.md)."""

from sandbox.wecom.emulator import WeComEmulator, fake_encoding_aes_key
from sandbox.wecom.members import Delivery, Member

__all__ = ["Delivery", "Member", "WeComEmulator", "fake_encoding_aes_key"]
