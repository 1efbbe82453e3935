from __future__ import annotations

from typing import Any

from django import forms


class LoginForm(forms.Form):
    handle = forms.CharField(max_length=50)
    password = forms.CharField(strip=False)


class UploadForm(forms.Form):
    title = forms.CharField(max_length=200)
    caption = forms.CharField(required=False, strip=False)
    # The form metaclass moves declared fields into base_fields, so this does not
    # replace Form.media at run time; the stubs see a plain class attribute.
    media = forms.FileField(required=False)  # type: ignore[assignment]
    publish_token = forms.CharField(max_length=64, required=False)

    def __init__(self, *args: Any, caption_max_length: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.caption_max_length = caption_max_length

    def clean_caption(self) -> str:
        # Browsers send textarea line breaks as CRLF; count them as one character.
        caption = self.cleaned_data["caption"].replace("\r\n", "\n")
        if len(caption) > self.caption_max_length:
            raise forms.ValidationError(
                "Caption is %(length)d characters; the limit is %(limit)d.",
                code="too_long",
                params={"length": len(caption), "limit": self.caption_max_length},
            )
        return caption

    def rejection(self) -> tuple[str, str]:
        """The first problem as a (reason code, message) pair, e.g. ("caption_too_long", …)."""
        for field, errors in self.errors.as_data().items():
            error = errors[0]
            code = {"max_length": "too_long"}.get(error.code or "invalid", error.code or "invalid")
            message = " ".join(error.messages)
            return f"{field}_{code}", f"{field}: {message}"
        return "invalid", "The upload is invalid."
