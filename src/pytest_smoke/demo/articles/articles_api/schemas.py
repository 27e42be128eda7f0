"""Request and response bodies: camelCase on the wire, enveloped as ``{"article": {...}}``."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

Title = Annotated[str, Field(min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=1000)]
Body = Annotated[str, Field(max_length=100_000)]
Tag = Annotated[str, Field(min_length=1, max_length=50)]
TagList = Annotated[list[Tag], Field(max_length=20)]


class Schema(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="forbid")


class ArticleInCreate(Schema):
    title: Title
    description: Description
    body: Body
    tag_list: TagList = []


class ArticleInUpdate(Schema):
    title: Title | None = None
    description: Description | None = None
    body: Body | None = None
    tag_list: TagList | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> "ArticleInUpdate":
        if not self.model_fields_set:
            raise ValueError("give at least one of title, description, body, tagList")
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"{to_camel(name)} cannot be null")
        return self


class Profile(Schema):
    username: str
    bio: str
    image: str | None
    following: bool = False


class Article(Schema):
    slug: str
    title: str
    description: str
    body: str
    tag_list: list[str]
    created_at: datetime
    updated_at: datetime
    author: Profile

    @classmethod
    def from_row(cls, row: Any) -> "Article":
        return cls(
            slug=row["slug"],
            title=row["title"],
            description=row["description"],
            body=row["body"],
            tag_list=list(row["tag_list"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            author=Profile(username=row["username"], bio=row["bio"], image=row["image"]),
        )


class ArticleEnvelope(Schema):
    article: Article


class ArticleList(Schema):
    articles: list[Article]
    articles_count: int


Username = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
Email = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Password = Annotated[str, Field(min_length=8, max_length=200)]


class UserInCreate(Schema):
    username: Username
    email: Email
    password: Password


class UserInDelete(Schema):
    password: Annotated[str, Field(max_length=200)]


class User(Schema):
    username: str
    email: str | None
    bio: str
    image: str | None

    @classmethod
    def from_row(cls, row: Any) -> "User":
        return cls(username=row["username"], email=row["email"], bio=row["bio"], image=row["image"])


class UserEnvelope(Schema):
    user: User


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class Health(BaseModel):
    status: str
