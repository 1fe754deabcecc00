"""One typed Settings object: every knob comes from the environment (or a .env file)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development placeholders: fine on a laptop, refused when APP_ENV=production.
DEV_TOKEN = "jiangxin-dev-token"
DEV_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DEV_SECRET = "jiangxin-dev-secret"
DEV_STAFF_TOKEN = "jiangxin-dev-staff-token"
# Public development keys for personal data at rest (base64 of 32 bytes each).
DEV_PII_KEY = "amlhbmd4aW4tZGV2LXBpaS1rZXktbm90LXNlY3JldCE="
DEV_PII_KEYS = f"dev:{DEV_PII_KEY}"
DEV_PII_HASH_KEY = "amlhbmd4aW4tZGV2LXBpaS1oYXNoLW5vdC1zZWNyZXQ="
_PLACEHOLDERS = {DEV_TOKEN, DEV_AES_KEY, DEV_SECRET}


class Settings(BaseSettings):
    """Configuration of the api, the bot runtime and the action server."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///var/jiangxin.db"
    redis_url: str | None = None
    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055"
    port: int = 8000
    knowledge_base_dir: str = "knowledge_base"

    wechat_oa_appid: str = "wx0000000000000001"
    wechat_oa_secret: str = DEV_SECRET
    wechat_oa_token: str = DEV_TOKEN
    wechat_oa_aes_key: str = DEV_AES_KEY
    # During an EncodingAESKey rotation: the previous key, still accepted for incoming pushes.
    wechat_oa_aes_key_previous: str = ""
    wechat_mp_appid: str = "wx0000000000000002"
    wechat_mp_secret: str = DEV_SECRET
    wechat_mp_token: str = DEV_TOKEN
    wechat_mp_aes_key: str = DEV_AES_KEY
    wechat_mp_aes_key_previous: str = ""
    # Where outbound WeChat API calls go. Unset: the local sandbox mounted on this api.
    wechat_api_base: str | None = None

    # Back-office staff API: bearer token → staff name (JSON in STAFF_API_TOKENS). Accounts
    # and roles replace this with the back office.
    staff_api_tokens: dict[str, str] = Field(default_factory=lambda: {DEV_STAFF_TOKEN: "演示店员"})

    # Repair-status notices outside the 48-hour window: an OA template message, or a
    # mini-program subscribe message the customer accepted (ids from the WeChat console).
    repair_status_template_id: str = "repair-status-dev"
    repair_status_subscribe_template_id: str = "repair-status-subscribe-dev"
    # Coupon-issued notices outside the 48-hour window, likewise.
    coupon_issued_template_id: str = "coupon-issued-dev"
    coupon_issued_subscribe_template_id: str = "coupon-issued-subscribe-dev"

    # An agent's reply outside the 48-hour window goes out as a service notice, likewise.
    service_notice_template_id: str = "service-notice-dev"
    service_notice_subscribe_template_id: str = "service-notice-subscribe-dev"

    # Seconds the callback waits for Rasa before answering `success` and replying later.
    reply_budget_seconds: float = Field(default=4.0, gt=0, lt=5)
    dedup_ttl_seconds: int = 600
    # Faults: a message the bot could not answer (Rasa down, a process killed mid-turn) is kept
    # as pending and answered once Rasa is back; after these minutes without Rasa a human gets
    # it instead. Pushes that could not be stored (database down) wait in SPOOL_DIR on disk and
    # are replayed in order once the database answers.
    # A "pending" message counts as abandoned (its process died) after PENDING_STALE_SECONDS:
    # longer than any process may still be waiting for Rasa (60 s) plus the reply budget.
    recovery: bool = True
    pending_retry_seconds: float = Field(default=5.0, gt=0)
    pending_stale_seconds: float = Field(default=75.0, gt=0)
    pending_handoff_minutes: float = Field(default=10, gt=0)
    spool_dir: str = "var/spool"
    # The embedded default's Rasa tracker store (endpoints.yml): erasing a customer deletes
    # their conversation's rows there too (that store only ever appends).
    rasa_tracker_db: str = "var/rasa-tracker.db"
    mp_session_ttl_seconds: int = 7 * 24 * 3600
    # Who delivers SMS verification codes (member binding). Only "log" exists so far: it logs the
    # text and hands it to the sandbox; a real provider is to be added before production.
    sms_provider: Literal["log"] = "log"
    # Human handoff: the hours agents answer live (China time), how long a customer waits in the
    # queue before being offered to leave a message, and how long a silent conversation stays
    # with a human before it goes back to the bot.
    handoff_hours: str = Field(default="08:30-21:00", pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")
    handoff_queue_timeout_minutes: int = Field(default=10, gt=0)
    handoff_idle_minutes: int = Field(default=30, gt=0)
    # Back-office login: minutes a staff session lives without a request (each request extends it).
    staff_session_minutes: int = Field(default=480, gt=0)
    # Abuse limits, per minute (counted in Redis, or in process without it or while it is down).
    # A WeChat user's messages that reach the bot; beyond it they are kept but not answered.
    openid_messages_per_minute: int = Field(default=20, gt=0)
    # Requests from one IP address to /api/mp and to /api/integration.
    mp_api_requests_per_ip_per_minute: int = Field(default=120, gt=0)
    integration_requests_per_ip_per_minute: int = Field(default=600, gt=0)
    # Failed signature checks on the WeChat callbacks from one IP, then 403 without checking.
    signature_failures_per_ip_per_minute: int = Field(default=30, gt=0)
    # Failed back-office logins from one IP, then 429 without checking (besides the per-account
    # lockout; successful logins are free: a store's staff share one address).
    login_failures_per_ip_per_minute: int = Field(default=20, gt=0)
    # Addresses of our own reverse proxies: only requests from them have their client taken from
    # X-Forwarded-For (the last address a trusted proxy added). Empty: the peer address counts.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Personal data at rest (phones, names): "kid:base64 32-byte key" pairs, comma-separated;
    # the first encrypts, all decrypt (rotation: put the new key first, run
    # `python -m crm.privacy rotate-keys`, then drop the old one). PII_HASH_KEY keys the hashes
    # phones are looked up by. The defaults are public development keys, refused in production.
    pii_keys: str = DEV_PII_KEYS
    pii_hash_key: str = DEV_PII_HASH_KEY
    # Run the outbox delivery worker inside the api process (the embedded default).
    delivery_worker: bool = True
    # Run the daily jobs (points and coupon expiry, birthday coupons, tier re-rating) inside the
    # api process; or set false and run `python -m crm.jobs daily` from cron.
    scheduled_jobs: bool = True

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.app_env == "production":
            # The development keys are public: not even as an old key in the list.
            if DEV_PII_KEY in self.pii_keys or self.pii_hash_key == DEV_PII_HASH_KEY:
                raise ValueError(
                    "PII_KEYS and PII_HASH_KEY need real keys in production "
                    "(`python -m crm.privacy new-key` prints one)"
                )
            if self.sms_provider == "log":
                raise ValueError(
                    "SMS_PROVIDER=log only logs codes; production needs a real provider"
                )
            used = [
                name
                for name in (
                    "wechat_oa_secret",
                    "wechat_oa_token",
                    "wechat_oa_aes_key",
                    "wechat_mp_secret",
                    "wechat_mp_token",
                    "wechat_mp_aes_key",
                )
                if getattr(self, name) in _PLACEHOLDERS
            ]
            if DEV_STAFF_TOKEN in self.staff_api_tokens:
                used.append("staff_api_tokens")
            if used:
                raise ValueError(f"placeholder secrets are not allowed in production: {used}")
            if not self.wechat_api_base:
                raise ValueError("WECHAT_API_BASE must be set in production")
        from crm.privacy.crypto import Keyring  # late: crm.privacy imports this module

        Keyring.parse(self.pii_keys, self.pii_hash_key)  # malformed keys stop the start-up
        for name in (
            "wechat_oa_aes_key",
            "wechat_mp_aes_key",
            "wechat_oa_aes_key_previous",
            "wechat_mp_aes_key_previous",
        ):
            value = getattr(self, name)
            if (value or not name.endswith("_previous")) and len(value) != 43:
                raise ValueError(f"{name.upper()} must be 43 characters (WeChat EncodingAESKey)")
        return self

    @property
    def sandbox_enabled(self) -> bool:
        """The local WeChat sandbox serves outbound calls when no real API base is configured."""
        return not self.wechat_api_base

    @property
    def effective_wechat_api_base(self) -> str:
        """Base URL (without trailing slash) of the WeChat API this process talks to."""
        return (self.wechat_api_base or f"http://127.0.0.1:{self.port}/sandbox").rstrip("/")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
