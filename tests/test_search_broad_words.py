"""Whether a search's words are broad is counted once per state of the collections searched
(search/broad_words.py): the same search again reuses the answer, and any committed change to
the collection's media makes it count again."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from coreviz_studio.search import broad_words, near_words, scoring

CAP = 3  # a word in 3 items or more is broad here


def _add(session, org: uuid.UUID, ds: uuid.UUID, document: str) -> uuid.UUID:  # type: ignore[no-untyped-def]
    media = uuid.uuid4()
    session.execute(text(
        "INSERT INTO media (id, organization_id, dataset_id, type, name, path, root_id, "
        "search_text) VALUES (:m, :o, :d, 'image', 'x.jpg', text2ltree(:p), :m, :t)"),
        {"m": media, "o": org, "d": ds, "p": f"{ds.hex}.{media.hex}", "t": document})
    return media


def _search(session, org: uuid.UUID, ds: uuid.UUID, q: str) -> tuple[set[uuid.UUID], object]:  # type: ignore[no-untyped-def]
    """The items the search finds, after learning or reusing what it counted."""
    scoring.tune(session, 40, 20_000)
    key = broad_words.key(session, org, ds, q, CAP)
    clause = scoring.hybrid(q, [], scoring.Scope(org, ds), candidates=10, min_similarity=0.15,
                            text_cap=CAP, known=broad_words.known(key))
    rows = session.execute(clause).all()
    broad_words.learn(key, rows)
    return {r.media_id for r in rows}, key


def test_a_broad_word_is_counted_once_per_state_of_the_collection(database, make_member) -> None:  # type: ignore[no-untyped-def]
    member = make_member()
    org, ds = member.org_id, uuid.uuid4()
    with database.system_sessions() as s:
        s.execute(text("INSERT INTO datasets (id, organization_id, name) VALUES (:d, :o, 'w')"),
                  {"d": ds, "o": org})
        zebras = [_add(s, org, ds, f"a zebra number {n}") for n in range(2)]
        near_words.add(s, zebras)
        s.commit()

        found, key = _search(s, org, ds, "zebra")  # in 2 items: not broad, both found
        assert found == set(zebras) and broad_words.known(key) == (False, False)
        s.commit()
        again, same = _search(s, org, ds, "zebra")
        assert same == key and again == set(zebras)
        # What is known replaces the count: told "broad", the search only re-ranks the
        # vector candidates (none here), though the word is in 2 items.
        told = scoring.hybrid("zebra", [], scoring.Scope(org, ds), candidates=10,
                              min_similarity=0.15, text_cap=CAP, known=(True, None))
        assert s.execute(told).all() == []
        s.commit()

        # A typo, corrected to "zebra" by the dictionary: its count is remembered too.
        found, typo = _search(s, org, ds, "zebar")
        assert found == set(zebras) and broad_words.known(typo) == (False, False)
        s.commit()

        # A third zebra (committed): a new state, counted again, now broad.
        zebras.append(_add(s, org, ds, "one more zebra"))
        s.commit()
        found, moved = _search(s, org, ds, "zebra")
        assert moved != key and found == set()
        s.rollback()


def test_new_words_go_in_at_commit_so_two_writers_never_deadlock(database, make_member) -> None:  # type: ignore[no-untyped-def]
    """Two transactions that add the same new word and lock the same media row in the other
    order (two processing jobs of versions of one item did): the dictionary rows are written
    at each commit, not when the document is rebuilt, so neither waits for the other in a
    cycle (before, PostgreSQL killed one of them with "deadlock detected")."""
    import threading

    member = make_member()
    org, ds = member.org_id, uuid.uuid4()
    word = f"quokka{uuid.uuid4().hex[:6]}"
    with database.system_sessions() as s:
        s.execute(text("INSERT INTO datasets (id, organization_id, name) VALUES (:d, :o, 'w')"),
                  {"d": ds, "o": org})
        x, y = _add(s, org, ds, f"a {word} here"), _add(s, org, ds, f"a {word} there")
        s.commit()
    touch = text("UPDATE media SET name = name WHERE id = :m")
    with database.system_sessions() as a, database.system_sessions() as b:
        # Waiting on a would be the cycle: b gives up after 5 s instead (and the test fails).
        b.execute(text("SET LOCAL lock_timeout = '5s'"))
        b.execute(touch, {"m": y})  # b holds y
        with a.begin_nested():  # a savepoint's release is not the commit
            near_words.add(a, [x])
        errors: list[BaseException] = []

        def b_finishes() -> None:
            try:
                near_words.add(b, [y])
                b.commit()  # writes the word, then lets y go
            except BaseException as exc:  # reported by the assertion below
                errors.append(exc)

        other = threading.Thread(target=b_finishes)
        other.start()
        other.join(timeout=60)
        assert not other.is_alive() and errors == []  # b waited for nothing a held
        a.execute(touch, {"m": y})
        a.commit()
    with database.system_sessions() as s:
        assert s.scalar(text("SELECT count(*) FROM search_words WHERE organization_id = :o "
                             "AND word = :w"), {"o": org, "w": word}) == 1
