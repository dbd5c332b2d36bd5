"""The assignment's task table: every graded task, what it is worth, and the code it blanks.

The reference code marks each piece a student writes with two lines, ``# BEGIN SOLUTION`` and
``# END SOLUTION`` (otter-grader's convention). This table maps every fenced function to its
task, by path and qualified name (``Class.method`` or ``function``), with the equations of
docs/derivation.md it implements and one sentence saying what the student's code must do.

A task is of one of four kinds:

- ``code``: the student writes fenced functions; graded by its marked tests;
- ``integration``: no code of its own; its tests run the whole model, so they pass only when
  every task in ``builds_on`` is right;
- ``results``: the student trains a model with a set command and hands in the run folder;
  its tests check the run's numbers against bands (scripts/results_bands.json);
- ``written``: questions answered in REPORT.md (scripts/written_part.py), graded by hand.

Who reads the table:

- ``scripts/make_assignment.py`` blanks the fences of the chosen code tasks; a fence that no
  row of this table names is an error, never silently blanked. It lists every chosen task,
  with its points, in the copy's ASSIGNMENT.md.
- ``scripts/grade.py`` groups the tests by the ``task`` of their ``@pytest.mark.points``
  marker and prints the points per task; the written task shows as graded by hand.
- ``tests/conftest.py`` checks that every marker names a task of this table that has tests.

``points`` is what the task's marked tests add up to, hidden tests included (for the written
task: the points of its questions); tests/instructor/test_assignment.py keeps them in step.
``minutes`` is a rough time for a student who has read the derivation.
"""
import importlib.util
import sys
from collections import namedtuple
from pathlib import Path

Function = namedtuple("Function", ["path", "qualname", "equations", "goal"])
Function.__doc__ = """One fenced function: where it is, the equations it implements, its goal.

``path`` is relative to the project root (``numpyvae/dense.py``); ``goal`` is one sentence
for the student, quoted in the stub's NotImplementedError. It says what to compute, never how
the reference writes it.
"""

KINDS = ("code", "integration", "results", "written")


class Task(namedtuple("Task", ["id", "title", "functions", "points", "minutes", "builds_on",
                               "kind"])):
    """A task: an id, its fenced functions, its points and time, what it builds on, its kind.

    ``kind`` is one of :data:`KINDS`; only a ``code`` task has functions.
    """

    __slots__ = ()

    @property
    def integration(self):
        return self.kind == "integration"

    @property
    def by_hand(self):
        """Graded by a person, not by tests (the written part)."""
        return self.kind == "written"


ACTIVATION_EQUATIONS = {"identity": 28, "relu": 29, "leaky_relu": 30, "elu": 31, "tanh": 32,
                        "sigmoid": 33, "softplus": 34}

IWAE_FUNCTIONS = (
    Function("numpyvae/evaluate.py", "log_weights", (37, 38),
             "compute the log-weights log w of shape (K, B) from the likelihood of x given z, "
             "the prior of z and the posterior q of z given x, the latter from the noise v"),
    Function("numpyvae/evaluate.py", "log_mean_exp", (39,),
             "return log (1/K) sum_k exp(w_k) along the given axis without overflow, the "
             "axis removed"),
)

IWAE_GRADIENT_FUNCTIONS = (
    Function("numpyvae/iwae.py", "iwae_bound_forward", (50,),
             "compute the normalized weights w_tilde of shape (S, B), the softmax over the S "
             "samples of each example's log weights, finite even at log weights of +-1000 "
             "(the bound is computed for you)"),
    Function("numpyvae/iwae.py", "iwae_bound_backward", (51,),
             "return dL/dlog w of shape (S, B) from dbound (B,) and the normalized weights "
             "(S, B) in the cache"),
    Function("numpyvae/iwae.py", "log_weights_backward", (53, 54),
             "compute dlog_px (S, B), dz (S, B, K) through log p(z) only, and dsigma (B, K) "
             "through log q(z|x) only, from dlog_w (S, B) and the cache (z, sigma)"),
)

TASKS = (
    Task("dense-backward", "the dense layer's backward pass", (
        Function("numpyvae/dense.py", "dense_backward", (24, 25, 26),
                 "return dx, dW and db, each of the shape of what it is the gradient of (dx "
                 "may be None when input_grad is False)"),
    ), points=4, minutes=30, builds_on=(), kind="code"),
    Task("activations", "each activation's backward pass", tuple(
        Function("numpyvae/activations.py", f"{name}_backward", (27, number),
                 f"return dL/da = dL/dy * f'(a) for {name}, from the cache its forward keeps")
        for name, number in ACTIVATION_EQUATIONS.items()
    ), points=7, minutes=30, builds_on=(), kind="code"),
    Task("sigma", "dL/ds for the two parameterizations of sigma", (
        Function("numpyvae/sigma.py", "log_var_backward", (7,),
                 "return dL/ds for sigma = exp(s/2); the cache is sigma"),
        Function("numpyvae/sigma.py", "softplus_backward", (8,),
                 "return dL/ds for sigma = floor + softplus(s); the cache is s"),
    ), points=2, minutes=15, builds_on=(), kind="code"),
    Task("reparameterize", "the reparameterization trick, forward and backward", (
        Function("numpyvae/reparam.py", "reparameterize_forward", (9,),
                 "compute z of shape (r, B, K) from mu, sigma (B, K) and v (r, B, K)"),
        Function("numpyvae/reparam.py", "reparameterize_backward", (10, 11),
                 "compute dmu and dsigma, each (B, K), from dz (r, B, K)"),
    ), points=5, minutes=30, builds_on=(), kind="code"),
    Task("kl", "the KL divergence to N(0, I) and its gradient", (
        Function("numpyvae/kl.py", "kl_forward", (12,),
                 "compute kl of shape (B,): one value per example, summed over the K latent "
                 "dimensions"),
        Function("numpyvae/kl.py", "kl_backward", (13, 14),
                 "compute dmu and dsigma, each (B, K), from dkl (already shaped (B, 1))"),
    ), points=4, minutes=45, builds_on=("sigma",), kind="code"),
    Task("bernoulli", "the Bernoulli likelihood's gradient", (
        Function("numpyvae/likelihoods/bernoulli.py", "bernoulli_nll_backward", (18,),
                 "return dL/dlogits of shape (..., B, D) from dnll (..., B), x and the "
                 "logits"),
    ), points=4, minutes=20, builds_on=(), kind="code"),
    Task("gaussian", "the Gaussian likelihood's gradients", (
        Function("numpyvae/likelihoods/gaussian.py", "gaussian_nll_backward", (20, 21),
                 "compute dmean and dsigma, each of shape (..., B, D); dnll is already "
                 "shaped (..., B, 1)"),
    ), points=2, minutes=30, builds_on=(), kind="code"),
    Task("gaussian-shared", "one sigma_x shared by every pixel: its gradient", (
        Function("numpyvae/likelihoods/gaussian.py", "gaussian_shared_nll_backward", (20, 47),
                 "compute dmean of shape (..., B, D) and dsigma of shape (1,), the gradient "
                 "of the one sigma_x of every pixel; dnll is already shaped (..., B, 1)"),
    ), points=3, minutes=20, builds_on=("gaussian",), kind="code"),
    Task("concat-backward", "the conditional VAE's first layer, on [x, onehot(y)]: its backward", (
        Function("numpyvae/conditional.py", "concat_dense_backward", (26, 57, 58),
                 "return dx (None when input_grad is False), dW, dWy and db, each of the "
                 "shape of what it is the gradient of; the label's block of the input "
                 "gradient is dropped"),
    ), points=6, minutes=30, builds_on=("dense-backward",), kind="code"),
    Task("sgd", "SGD with momentum", (
        Function("numpyvae/optim/sgd.py", "sgd_update", (40,),
                 "update the velocity u and theta in place"),
    ), points=3, minutes=20, builds_on=(), kind="code"),
    Task("weight-decay", "L2 weight decay", (
        Function("numpyvae/optim/weight_decay.py", "add_weight_decay", (41,),
                 "return the gradient with eq. (41)'s decay term added, as a new array, "
                 "leaving g and theta unchanged"),
    ), points=2, minutes=10, builds_on=(), kind="code"),
    Task("adam", "Adam with bias correction", (
        Function("numpyvae/optim/adam.py", "adam_update", (42,),
                 "update m, v and theta in place, as Algorithm 1 of Kingma & Ba (t is this "
                 "step's number, from 1)"),
    ), points=6, minutes=40, builds_on=("sgd",), kind="code"),
    Task("adagrad", "Adagrad", (
        Function("numpyvae/optim/adagrad.py", "adagrad_update", (43,),
                 "update theta and G in place"),
    ), points=4, minutes=20, builds_on=(), kind="code"),
    Task("full-model", "the whole model's gradient check (integration)", (),
         points=6, minutes=20,
         builds_on=("dense-backward", "activations", "sigma", "reparameterize", "kl",
                    "bernoulli", "gaussian"),
         kind="integration"),
    Task("iwae-bound", "the importance-weighted bound's log-weights and log-mean-exp",
         IWAE_FUNCTIONS, points=6, minutes=40, builds_on=(),
         kind="code"),
    Task("iwae-gradient", "the importance-weighted bound's normalized weights and gradient",
         IWAE_GRADIENT_FUNCTIONS, points=6, minutes=40, builds_on=("iwae-bound",),
         kind="code"),
    Task("trained-model", "a model trained with the set command, checked against bands", (),
         points=5, minutes=15,
         builds_on=("dense-backward", "activations", "sigma", "reparameterize", "kl",
                    "bernoulli", "adam"),
         kind="results"),
    Task("written", "the written part, answered in REPORT.md", (), points=10, minutes=90,
         builds_on=(), kind="written"),
)

# Names that stand for several tasks on the command line.
GROUPS = {
    "all": tuple(t.id for t in TASKS),
    "model": ("dense-backward", "activations", "sigma", "reparameterize", "kl", "bernoulli",
              "gaussian", "gaussian-shared"),
    "optimizers": ("sgd", "weight-decay", "adam", "adagrad"),
}

DERIVATION = "docs/derivation.md"


def task_ids(tasks=TASKS):
    return tuple(t.id for t in tasks)


def get_task(task_id, tasks=TASKS):
    """The task called ``task_id``, with a clear error for an unknown one."""
    for task in tasks:
        if task.id == task_id:
            return task
    raise ValueError(f"unknown task {task_id!r}; the tasks are {', '.join(task_ids(tasks))} "
                     f"(and the groups {', '.join(GROUPS)})")


def expand(names):
    """Task ids from names given on the command line: ids, groups, or comma-separated lists.

    Returns the ids in the table's order, each once.
    """
    wanted = set()
    for name in names:
        for part in filter(None, (p.strip() for p in name.split(","))):
            wanted.update(GROUPS[part] if part in GROUPS else (get_task(part).id,))
    return tuple(t for t in task_ids() if t in wanted)


def fenced_functions(tasks=TASKS):
    """{(path, qualname): (task, function)} for every function of the table."""
    index = {}
    for task in tasks:
        for function in task.functions:
            index[(function.path, function.qualname)] = (task, function)
    return index


def format_equations(numbers):
    """``eq. (9)``, ``eqs. (24)-(26)`` or ``eqs. (27), (29)``: the citation style of the docs."""
    numbers = sorted(set(numbers))
    runs, start = [], numbers[0]
    for prev, cur in zip(numbers, numbers[1:] + [None]):
        if cur != prev + 1:
            runs.append(f"({start})" if start == prev else f"({start})-({prev})")
            start = cur
    return ("eq. " if len(numbers) == 1 else "eqs. ") + ", ".join(runs)


def task_equations(task):
    """Every equation of a task's functions (for an integration or results task: of what it
    builds on; for the written task, none)."""
    if task.kind in ("integration", "results"):
        return tuple(sorted({n for dep in task.builds_on for n in task_equations(get_task(dep))}))
    return tuple(sorted({n for f in task.functions for n in f.equations}))


def stub_message(task, function):
    """What the stub of ``function`` says when it is called."""
    return (f"task '{task.id}' ({task.title}): {function.qualname} in {function.path} is not "
            f"written yet. Goal: {function.goal}. Implement "
            f"{format_equations(function.equations)} of {DERIVATION}.")


WRITTEN_PART = "scripts/written_part.py"


def load_written_part():
    """The module scripts/written_part.py (the written task's questions), or None."""
    path = Path(__file__).resolve().parent / "written_part.py"
    if not path.is_file():
        return None
    module = sys.modules.get("written_part")
    if module is None or Path(getattr(module, "__file__", "")).resolve() != path:
        spec = importlib.util.spec_from_file_location("written_part", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["written_part"] = module
        spec.loader.exec_module(module)
    return module


def written_questions():
    """The written task's questions, ``[(id, points, question), ...]``, from
    scripts/written_part.py; empty when that file is absent."""
    module = load_written_part()
    if module is None:
        return []
    return [(q[0], q[1], q[2]) for q in module.QUESTIONS]
