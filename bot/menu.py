"""The official account's menu: read from bot/menu.yml; `python -m bot.menu publish` sends it."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import yaml

from bot.wechat_api import WeChatAPI, WeChatAPIError
from crm.config import get_settings
from crm.kv import get_store

MENU_FILE = Path(__file__).with_name("menu.yml")


@lru_cache
def load_menu(path: Path = MENU_FILE) -> dict[str, Any]:
    """The menu file, checked: every click button has an action and keys are unique."""
    menu: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    keys = [
        b["key"]
        for top in menu["button"]
        for b in [top, *top.get("sub_button", [])]
        if b.get("type") == "click"
    ]
    if len(keys) != len(set(keys)):
        raise ValueError(f"{path}: duplicate menu keys")
    missing = set(keys) - set(menu.get("actions", {}))
    if missing:
        raise ValueError(f"{path}: click keys without an action: {sorted(missing)}")
    return menu


def click_text(key: str) -> str | None:
    """What a CLICK on `key` says to the bot, or None for an unknown key."""
    action = load_menu()["actions"].get(key)
    return str(action["say"]) if action else None


async def publish() -> dict[str, Any]:
    """POST the menu to menu/create of the configured WeChat API."""
    settings = get_settings()
    async with httpx.AsyncClient() as http:
        api = WeChatAPI(
            settings.wechat_oa_appid,
            settings.wechat_oa_secret,
            settings.effective_wechat_api_base,
            get_store(),
            http,
        )
        return await api.create_menu({"button": load_menu()["button"]})


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.menu show|publish`."""
    parser = argparse.ArgumentParser(prog="python -m bot.menu")
    parser.add_argument("command", choices=["show", "publish"])
    args = parser.parse_args(argv)
    menu = load_menu()
    if args.command == "show":
        print(json.dumps({"button": menu["button"]}, ensure_ascii=False, indent=2))
        return 0
    try:
        asyncio.run(publish())
    except WeChatAPIError as exc:
        print(f"menu: WeChat refused the menu: {exc}", file=sys.stderr)
        return 1
    print(
        f"menu: version {menu['version']} published to {get_settings().effective_wechat_api_base}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
