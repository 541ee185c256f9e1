"""Navigation links that say which one is the current page.

    {% navigation %}
      {% navlink "Home" "trials:home" trial.code exact=True %}
      {% navlink "Visit grid" "trials:visits" trial.code %}
    {% endnavigation %}

Inside a `navigation` block the link whose URL is the longest prefix of the request's path
(or equals it, for `exact` links) gets `aria-current="page"`: the visit grid stays current on
a visit's page, and "Overdue visits" (/visits/overdue/) wins over the grid (/visits/) on its own.
"""
from __future__ import annotations

from typing import Any

from django import template
from django.template.base import Parser, Token
from django.template.context import Context
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

_LINKS = "ictms.nav.links"  # render_context key: the (href, label, exact) of the block being rendered


def _placeholder(i: int) -> str:
    return f"\x00navlink{i}\x00"


@register.simple_tag(takes_context=True)
def navlink(context: Context, label: str, url_name: str, *args: Any, exact: bool = False) -> str:
    href = reverse(url_name, args=args)
    links = context.render_context.get(_LINKS)
    if links is None:  # outside a navigation block: current only on its own page
        path = getattr(context.get("request"), "path", "")
        return _anchor(href, label, href == path)
    links.append((href, label, exact))
    return _placeholder(len(links) - 1)  # escaping leaves it as is; the block swaps in the link


def _anchor(href: str, label: str, current: bool) -> SafeString:
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', href, label)
    return format_html('<a href="{}">{}</a>', href, label)


def current_link(path: str, links: list[tuple[str, str, bool]]) -> int | None:
    """The index of the link naming the current page: an exact match, else the longest prefix."""
    best: int | None = None
    for i, (href, _label, exact) in enumerate(links):
        if href == path:
            return i
        if not exact and path.startswith(href) and (best is None or len(href) > len(links[best][0])):
            best = i
    return best


class NavigationNode(template.Node):
    def __init__(self, nodelist: template.NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: Context) -> str:
        outer = context.render_context.get(_LINKS)
        links: list[tuple[str, str, bool]] = []
        context.render_context[_LINKS] = links
        try:
            html = self.nodelist.render(context)
        finally:
            context.render_context[_LINKS] = outer
        current = current_link(getattr(context.get("request"), "path", ""), links)
        for i, (href, label, _exact) in enumerate(links):
            html = html.replace(_placeholder(i), _anchor(href, label, i == current))
        return html  # a node's output is not escaped again; the anchors are format_html's


@register.tag
def navigation(parser: Parser, token: Token) -> NavigationNode:
    nodelist = parser.parse(("endnavigation",))
    parser.delete_first_token()
    return NavigationNode(nodelist)
