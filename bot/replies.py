"""Fixed texts the channel itself says (everything conversational comes from Rasa)."""

from crm.knowledge.nearby import NEAREST_STORE as NEAREST_STORE
from crm.knowledge.nearby import NO_STORE_NEARBY as NO_STORE_NEARBY

HOTLINE = "0571-86507700"
WELCOME = (
    "欢迎关注匠心五金！我是智能客服小匠，可以回答商品、保修、维修、会员积分等问题，"
    "直接发文字问我就行，比如「电池保修多久」。\n"
    "还不是会员？在匠心五金小程序「我的」里授权手机号即可绑定会员，积分、优惠券和保修记录自动同步。"
    "需要人工请回复「转人工」。"
)
WELCOME_BACK = "欢迎回来！有什么可以帮您？商品、保修、维修、积分的问题都可以直接问小匠。"
MP_GREETING = "您好，我是匠心五金智能客服小匠，请问有什么可以帮您？"
VOICE_UNRECOGNISED = "抱歉，这条语音小匠没听清，麻烦您打字告诉我，或者再说一遍。"
IMAGE_KEPT = (
    "图片已收到并保存，如需报修可作为凭证使用。请用文字描述一下您遇到的问题，小匠马上为您处理。"
)
VIDEO_KEPT = "视频已收到并保存。请用文字简单描述一下您的问题，小匠马上为您处理。"
LINK_RECEIVED = "链接已收到。请问您想了解这个页面上的什么问题？直接用文字告诉小匠就好。"
PAGE_RECEIVED = "收到您分享的页面「{title}」。请问想了解它的什么问题？价格、参数、保修都可以问我。"
BUSY = "".join(
    (
        "抱歉，小匠这会儿有点忙，您的消息已经记下，稍后会回复您；",
        f"着急的话请拨打客服热线 {HOTLINE}。",
    )
)

# The passive reply when the bot takes longer than WeChat waits: the answer follows.
HOLDING = "收到，小匠正在为您查询，请稍等，答案马上发给您。"

# Said once per window to a user over the per-openid message limit (their messages are kept).
SLOW_DOWN = "您发送得太快了，请稍等片刻再发。"
