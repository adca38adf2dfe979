"""Engines: one interface (``base.Engine``) over backends (torch, CTranslate2); ``loader`` builds them."""
