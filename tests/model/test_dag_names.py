"""A DAG's unique name, derived from its display name wherever a DAG is made (Import DAGs,
a project XML, the demo): :func:`localcap.model.dags.unique_group_name`."""

from __future__ import annotations

from localcap.model.dags import unique_group_name


def test_lower_case_spaces_to_underscores_other_characters_dropped():
    assert unique_group_name("New DAG", set()) == "new_dag"
    assert unique_group_name("dag-a", set()) == "daga"
    assert unique_group_name("  Site   B (Lyon) ", set()) == "site_b_lyon"
    assert unique_group_name("Zürich", set()) == "zrich"


def test_at_most_18_characters():
    assert unique_group_name("Paediatric Oncology Ward", set()) == "paediatric_oncolog"


def test_a_name_with_nothing_left_is_dag():
    assert unique_group_name("!!!", set()) == "dag"
    assert unique_group_name("", set()) == "dag"


def test_a_taken_name_gets_the_next_free_number_the_base_cut_to_keep_it_short():
    assert unique_group_name("Site A", {"site_a"}) == "site_a2"
    assert unique_group_name("Site A", {"site_a", "site_a2", "site_a3"}) == "site_a4"
    taken = {"paediatric_oncolog"}
    assert unique_group_name("Paediatric Oncology Ward", taken) == "paediatric_oncol2"
