"""The Studio: server-rendered pages (Jinja2 templates), our own CSS and ES modules, and the
API explorer's assets, all served by this server with no request to any other (docs/web.md)."""
