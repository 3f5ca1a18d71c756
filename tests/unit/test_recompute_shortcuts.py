"""What the recompute's writer assumes of the pure rules to skip work (progress/writer.py).

- An exam with a result at or above its effective pass score and no answer that is wrong or of
  low confidence has no risk reason: the writer does not call the rule for such a pair.
- Values are a function of the inputs the writer digests: a cell whose inputs' digest is unchanged
  keeps its stored values (checked against the reference in tests/integration/test_recompute_inputs.py).
"""
from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from dashboard.progress.rules import AnswerFactInfo, ExamInfo, ExamResult, Policy, exam_risk_reasons

CENTS = st.integers(0, 20000).map(lambda cents: Decimal(cents).scaleb(-2))


@given(score=CENTS, exam_pass=st.one_of(st.none(), CENTS), policy_pass=CENTS,
       source=st.sampled_from(["EXAM", "POLICY"]), answers=st.lists(st.tuples(st.integers(1, 3), st.integers(1, 5))))
def test_no_risk_reason_at_or_above_the_pass_line_without_risky_answers(score, exam_pass, policy_pass, source, answers):
    policy = Policy(exam_pass_score=policy_pass, exam_pass_source=source)
    line = policy_pass if source == "POLICY" or exam_pass is None else exam_pass
    exam = ExamInfo(1, Decimal(200), exam_pass)
    result = ExamResult(1, score, None, 1)
    # Right answers (the load reads only wrong or low-confidence ones, but right ones change nothing).
    right = [AnswerFactInfo(attempt, question, True, None) for attempt, question in answers]
    reasons = exam_risk_reasons(policy, exam, result, right)
    if score >= line:
        assert reasons == {}
    else:
        assert set(reasons) == {"LOW_SCORE"}


def test_a_score_a_hundredth_under_the_line_is_a_risk_and_on_it_is_not():
    exam = ExamInfo(1, Decimal(100), Decimal("60.50"))
    assert exam_risk_reasons(Policy(), exam, ExamResult(1, Decimal("60.49"), None, 1), []) == {
        "LOW_SCORE": {"score": Decimal("60.49"), "pass_score": Decimal("60.50")}}
    assert exam_risk_reasons(Policy(), exam, ExamResult(1, Decimal("60.50"), None, 1), []) == {}
