"""Every outbound WeChat message: decided in the database first, sent by the delivery worker."""
