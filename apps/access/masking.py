"""What a grant lets its holder see of one record: fields in clear, fields masked, the rest
omitted. ID numbers keep their first and last character (3****************X), phones their
first three and last four digits (138****1234), other masked text its first character."""

from __future__ import annotations

from apps.datapool.choices import LinkKey


def mask_id_number(value: str) -> str:
    text = str(value)
    return text[0] + "*" * (len(text) - 2) + text[-1] if len(text) > 2 else "*" * len(text)


def mask_phone(value: str) -> str:
    text = str(value)
    return text[:3] + "****" + text[-4:] if len(text) >= 8 else "*" * len(text)


def mask_text(value) -> str:
    text = str(value)
    return text[:1] + "*" * max(len(text) - 1, 1) if text else ""


def masker_for(field_spec: dict):
    link = field_spec.get("link")
    if link == LinkKey.ID_NUMBER:
        return mask_id_number
    if link == LinkKey.PHONE:
        return mask_phone
    return mask_text


class Presenter:
    """Built once per grant (and standard), applied to every record of a page or an export."""

    def __init__(self, standard, clear: list[str], masked: list[str]):
        specs = {f["name"]: f for f in standard.fields}
        self.clear = [name for name in clear if name in specs]
        self.masked = [(name, masker_for(specs[name])) for name in masked if name in specs and name not in clear]
        self.columns = [name for name in standard.field_names if name in set(self.clear) | {m for m, _ in self.masked}]

    def __call__(self, payload: dict) -> dict:
        out = {name: payload[name] for name in self.clear if name in payload}
        for name, mask in self.masked:
            if name in payload and payload[name] is not None:
                out[name] = mask(payload[name])
        return out


def owner_presenter(standard) -> Presenter:
    """The owner department sees its own records whole."""
    return Presenter(standard, standard.field_names, [])
