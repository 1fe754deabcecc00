"""What the customer is told as a conversation moves between the bot and a human."""

from __future__ import annotations

HOTLINE = "0571-86507700"
APOLOGY = {
    "complaint": "非常抱歉给您带来了不好的体验，",
    "anger": "非常抱歉让您不愉快了，",
    "low_rating": "为了解您遇到的问题，",
    "action_failed": "抱歉，系统刚才没能处理好您的请求，",
    "fallback": "抱歉小匠没能理解您的问题，",
    "bot_unavailable": "抱歉让您久等了，小匠暂时没法回复，",
}
CANCEL_WORDS = ("返回", "取消", "不用了", "不需要了", "算了", "回到小匠", "找小匠", "取消转人工")


def queued(reason: str, ahead: int, wait_minutes: int) -> str:
    """Queued during service hours: the place in the queue and the expected wait."""
    place = f"您前面还有 {ahead} 位，" if ahead else "您是下一位，"
    opening = APOLOGY.get(reason, "好的，")
    return (
        f"{opening}正在为您转接人工客服。{place}预计等待约 {wait_minutes} 分钟。"
        "您可以先把问题描述一下，客服接入后会第一时间看到。回复「返回」可继续和小匠聊。"
    )


def after_hours(reason: str, hours: str) -> str:
    """Outside service hours: the customer leaves a message instead."""
    return (
        f"{APOLOGY.get(reason, '')}现在是人工客服的休息时间（每天 {hours}）。"
        "您可以直接在这里留言，客服上班后会第一时间回复您；"
        f"着急的话也可以拨打客服热线 {HOTLINE}。回复「返回」可继续和小匠聊。"
    )


def already_waiting(state: str) -> str:
    """A second request while already with, or waiting for, a human."""
    if state == "assigned":
        return "客服正在为您服务，请直接说您的问题。"
    return "您已在人工客服的排队中，请稍候；也可以先留言，客服接入后会看到。"


def nobody_free(minutes: int) -> str:
    """Queued too long: leave a message instead of waiting."""
    return (
        f"抱歉，客服们都在忙，{minutes} 分钟内没能接入。您可以直接留言，客服有空后会尽快回复您；"
        f"着急的话也可以拨打客服热线 {HOTLINE}。回复「返回」可继续和小匠聊。"
    )


def agent_joined(name: str) -> str:
    """An agent took the conversation."""
    return f"您好，我是客服{name}，很高兴为您服务，请问有什么可以帮您？"


def cancelled() -> str:
    """The customer went back to the bot while waiting."""
    return "好的，已取消转人工，小匠继续为您服务～有问题随时问我。"


def resolved() -> str:
    """The agent ended the conversation."""
    return "本次人工服务已结束，感谢您的耐心。之后有问题直接发消息，小匠会继续为您解答～"


def idle_ended() -> str:
    """Nobody spoke for a while: back to the bot."""
    return "由于较长时间没有新消息，本次人工服务已结束。有问题随时发消息，小匠会继续为您解答～"


def message_kept() -> str:
    """A left message waits for an agent; the bot answers meanwhile."""
    return "您的留言已转交客服，客服会尽快回复您。现在小匠继续为您服务，有问题随时问我～"
