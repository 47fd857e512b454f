"""dropbox-streamer: Dropbox Business security telemetry into Apache Kafka."""

__version__ = "0.1.0"
