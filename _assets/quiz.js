/* The midterm review's checker: answers are checked in the page, with no kernel and no network.
 *
 * optimlab.review writes each question's controls and, in <script class="quiz-data">, what a
 * right answer is and what to say. A wrong answer shows why it is wrong and the section to reread
 * (a link once that section exists); a right one shows the short reason. Answers are kept in
 * localStorage, and the review plan lists the sections of the missed questions in the lecture's order.
 */
(function () {
  "use strict";

  // Printed output as compared with a prediction; optimlab.review.normalize_output does the same.
  function normalizeOutput(text) {
    return text.trim().split(/\r?\n/).map((line) => line.replace(/\s+/g, "")).filter(Boolean).join("\n");
  }

  function parseNumber(text) {
    const cleaned = text.trim().replace(",", ".");
    return cleaned === "" ? NaN : Number(cleaned);
  }

  function load(key) {
    try {
      return JSON.parse(window.localStorage.getItem(key)) || {};
    } catch (error) {
      return {}; // storage disabled or corrupt: the quiz still works, the plan just does not persist
    }
  }

  function save(key, answers) {
    try {
      window.localStorage.setItem(key, JSON.stringify(answers));
    } catch (error) {
      /* storage full or disabled: keep going without persistence */
    }
  }

  // The section to reread: a link once it exists in the book, else the topic and the lecture notes' section.
  function sectionNode(entry) {
    if (!entry.href) return document.createTextNode(entry.reread);
    const a = document.createElement("a");
    a.href = entry.href;
    a.textContent = entry.section_title;
    return a;
  }

  function rereadNode(entry) {
    const p = document.createElement("p");
    p.className = "quiz-reread";
    p.append("Reread: ", sectionNode(entry), ".");
    return p;
  }

  function show(feedback, correct, message, entry, extra) {
    feedback.replaceChildren();
    feedback.classList.toggle("quiz-right", correct);
    feedback.classList.toggle("quiz-wrong", !correct);
    const p = document.createElement("p");
    const verdict = document.createElement("strong");
    verdict.textContent = correct ? "Right. " : "Not quite. ";
    p.append(verdict, message);
    feedback.append(p);
    if (extra) feedback.append(extra);
    if (!correct) feedback.append(rereadNode(entry));
  }

  // Check one question's answer: [correct, message, extra node or null], or [null, what to do] while the
  // answer is incomplete (an incomplete answer is not recorded as wrong).
  const checkers = {
    true_false(entry, section, button) {
      const correct = (button.dataset.answer === "true") === entry.answer;
      return [correct, correct ? entry.reason : entry.why_wrong, null];
    },
    multiple_choice(entry, section, button) {
      const option = entry.options[Number(button.dataset.option)];
      return [option.correct, option.feedback, null];
    },
    derivation(entry, section) {
      const value = parseNumber(section.querySelector(".quiz-input").value);
      if (Number.isNaN(value)) return [null, "Type a number, such as 0.25 or 2.5e-3, then Check."];
      const correct = Math.abs(value - entry.answer) <= entry.tolerance;
      return [correct, correct ? entry.reason : entry.why_wrong, null];
    },
    matching(entry, section) {
      const selects = [...section.querySelectorAll(".quiz-select")];
      if (selects.some((select) => select.value === "")) return [null, "Choose a property for every item, then Check."];
      const wrong = [];
      section.querySelectorAll(".quiz-select").forEach((select) => {
        const item = select.dataset.item;
        const right = select.value === entry.answer[item];
        select.setAttribute("aria-invalid", right ? "false" : "true");
        if (!right) wrong.push(item);
      });
      if (!wrong.length) return [true, entry.reason, null];
      const list = document.createElement("ul");
      wrong.forEach((item) => {
        const li = document.createElement("li");
        li.textContent = `${item}: ${entry.why_wrong[item]}`;
        list.append(li);
      });
      const total = Object.keys(entry.answer).length;
      return [false, `${total - wrong.length} of ${total} pairs are right.`, list];
    },
    code(entry, section) {
      const predicted = section.querySelector(".quiz-input").value;
      if (!predicted.trim()) return [null, "Type what the code prints, one line per printed line, then Check."];
      const correct = normalizeOutput(predicted) === normalizeOutput(entry.answer);
      if (correct) return [true, entry.reason, null];
      const printed = document.createElement("pre");
      printed.className = "quiz-printed";
      printed.textContent = entry.answer.trimEnd();
      const intro = document.createElement("p");
      intro.textContent = "It prints:";
      const extra = document.createDocumentFragment();
      extra.append(intro, printed);
      return [false, entry.why_wrong, extra];
    },
  };

  function renderPlan(quiz, data, answers) {
    const list = document.querySelector(".quiz-plan-list");
    if (!list) return;
    list.replaceChildren();
    const ids = Object.keys(answers);
    const missed = ids.filter((id) => !answers[id] && data.questions[id]);
    if (!ids.length) {
      const p = document.createElement("p");
      p.textContent = "Answer the questions above: the sections to reread appear here, in the lecture's order.";
      list.append(p);
      return;
    }
    const summary = document.createElement("p");
    summary.textContent = `${ids.length - missed.length} of ${ids.length} answered questions right.`;
    list.append(summary);
    if (!missed.length) {
      const p = document.createElement("p");
      p.textContent = "Nothing to reread yet.";
      list.append(p);
      return;
    }
    // One line per section, in the lecture's order (topic order, then question order).
    const entries = missed
      .map((id) => data.questions[id])
      .sort((a, b) => data.topics.indexOf(a.topic) - data.topics.indexOf(b.topic) || a.number - b.number);
    const ol = document.createElement("ol");
    const seen = new Set();
    entries.forEach((entry) => {
      if (seen.has(entry.section)) return;
      seen.add(entry.section);
      const li = document.createElement("li");
      li.dataset.section = entry.section;
      li.append(sectionNode(entry));
      const numbers = entries.filter((e) => e.section === entry.section).map((e) => e.number);
      li.append(` (question${numbers.length > 1 ? "s" : ""} ${numbers.join(", ")})`);
      ol.append(li);
    });
    list.append(ol);
  }

  function setUp(quiz) {
    const data = JSON.parse(quiz.querySelector("script.quiz-data").textContent);
    const answers = load(data.storage_key);

    quiz.querySelectorAll(".quiz-question").forEach((section) => {
      const id = section.dataset.question;
      const entry = data.questions[id];
      const feedback = section.querySelector(".quiz-feedback");
      const check = (button) => {
        const result = checkers[entry.kind](entry, section, button);
        if (result[0] === null) {
          feedback.classList.remove("quiz-right", "quiz-wrong");
          feedback.textContent = result[1];
          return;
        }
        show(feedback, result[0], result[1], entry, result[2]);
        if (button && button.classList.contains("quiz-choice")) {
          section.querySelectorAll(".quiz-choice").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
        }
        answers[id] = result[0];
        save(data.storage_key, answers);
        renderPlan(quiz, data, answers);
      };
      section.querySelectorAll(".quiz-choice").forEach((button) => {
        button.setAttribute("aria-pressed", "false");
        button.addEventListener("click", () => check(button));
      });
      const checkButton = section.querySelector(".quiz-check");
      if (checkButton) checkButton.addEventListener("click", () => check(null));
      // Enter in a number box checks it (in a code box, Enter is a new line).
      section.querySelectorAll("input.quiz-input").forEach((input) =>
        input.addEventListener("keydown", (event) => {
          if (event.key === "Enter") {
            event.preventDefault();
            check(null);
          }
        })
      );
    });

    const reset = document.querySelector(".quiz-reset");
    if (reset) {
      reset.addEventListener("click", () => {
        Object.keys(answers).forEach((id) => delete answers[id]);
        try {
          window.localStorage.removeItem(data.storage_key);
        } catch (error) {
          /* nothing stored */
        }
        quiz.querySelectorAll(".quiz-feedback").forEach((f) => {
          f.replaceChildren();
          f.classList.remove("quiz-right", "quiz-wrong");
        });
        quiz.querySelectorAll(".quiz-input").forEach((input) => (input.value = ""));
        quiz.querySelectorAll(".quiz-select").forEach((select) => {
          select.value = "";
          select.removeAttribute("aria-invalid");
        });
        quiz.querySelectorAll(".quiz-choice").forEach((b) => b.setAttribute("aria-pressed", "false"));
        renderPlan(quiz, data, answers);
      });
    }
    renderPlan(quiz, data, answers);
  }

  function start() {
    document.querySelectorAll(".quiz").forEach(setUp);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
