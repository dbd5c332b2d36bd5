"""The assignment's task table: which fenced code belongs to which task, and what it is worth.

The reference code marks each piece a student writes with two lines, ``# BEGIN SOLUTION`` and
``# END SOLUTION`` (otter-grader's convention). This table maps every fenced function to its
task, by path and qualified name (``Class.method`` or ``function``), with the equations of
docs/derivation.md it implements and one sentence saying what the student's code must do.

- ``scripts/make_assignment.py`` blanks the fences of the chosen tasks; a fence that no row
  of this table names is an error, never silently blanked.
- ``scripts/grade.py`` groups the tests by the ``task`` of their ``@pytest.mark.points``
  marker and prints the points per task.
- ``tests/conftest.py`` checks that every marker names a task of this table.

``points`` is what the task's marked tests add up to; tests/test_assignment.py keeps the two
in step. ``minutes`` is a rough time for a student who has read the derivation.
"""
from collections import namedtuple

Function = namedtuple("Function", ["path", "qualname", "equations", "goal"])
Function.__doc__ = """One fenced function: where it is, the equations it implements, its goal.

``path`` is relative to the project root (``numpyvae/dense.py``); ``goal`` is one sentence
for the student, quoted in the stub's NotImplementedError.
"""

Task = namedtuple("Task", ["id", "title", "functions", "points", "minutes", "builds_on",
                           "integration"])
Task.__doc__ = """A task: an id, its fenced functions, its points and time, what it builds on.

An *integration* task has no code of its own: its tests run the whole model, so they pass only
when every task in ``builds_on`` is right.
"""

ACTIVATION_EQUATIONS = {"identity": 28, "relu": 29, "leaky_relu": 30, "elu": 31, "tanh": 32,
                        "sigmoid": 33, "softplus": 34}

TASKS = (
    Task("dense-backward", "the dense layer's backward pass", (
        Function("numpyvae/dense.py", "dense_backward", (24, 25, 26),
                 "return dx, dW and db, each of the shape of what it is the gradient of (dx "
                 "may be None when input_grad is False)"),
    ), points=4, minutes=30, builds_on=(), integration=False),
    Task("activations", "each activation's backward pass", tuple(
        Function("numpyvae/activations.py", f"{name}_backward", (27, number),
                 f"return dL/da = dL/dy * f'(a) for {name}, from the cache its forward keeps")
        for name, number in ACTIVATION_EQUATIONS.items()
    ), points=7, minutes=30, builds_on=(), integration=False),
    Task("sigma", "dL/ds for the two parameterizations of sigma", (
        Function("numpyvae/sigma.py", "log_var_backward", (7,),
                 "return dL/ds for sigma = exp(s/2); the cache is sigma"),
        Function("numpyvae/sigma.py", "softplus_backward", (8,),
                 "return dL/ds for sigma = floor + softplus(s); the cache is s"),
    ), points=2, minutes=15, builds_on=(), integration=False),
    Task("reparameterize", "the reparameterization trick, forward and backward", (
        Function("numpyvae/reparam.py", "reparameterize_forward", (9,),
                 "compute z of shape (r, B, K) from mu, sigma (B, K) and v (r, B, K)"),
        Function("numpyvae/reparam.py", "reparameterize_backward", (10, 11),
                 "compute dmu and dsigma, each (B, K), from dz (r, B, K)"),
    ), points=5, minutes=30, builds_on=(), integration=False),
    Task("kl", "the KL divergence to N(0, I) and its gradient", (
        Function("numpyvae/kl.py", "kl_forward", (12,),
                 "compute kl of shape (B,): one value per example, summed over the K latent "
                 "dimensions"),
        Function("numpyvae/kl.py", "kl_backward", (13, 14),
                 "compute dmu and dsigma, each (B, K), from dkl (already shaped (B, 1))"),
    ), points=4, minutes=45, builds_on=("sigma",), integration=False),
    Task("bernoulli", "the Bernoulli likelihood's gradient", (
        Function("numpyvae/likelihoods/bernoulli.py", "bernoulli_nll_backward", (18,),
                 "return dL/dlogits of shape (..., B, D) from dnll (..., B), x and the "
                 "logits"),
    ), points=4, minutes=20, builds_on=(), integration=False),
    Task("gaussian", "the Gaussian likelihood's gradients", (
        Function("numpyvae/likelihoods/gaussian.py", "gaussian_nll_backward", (20, 21),
                 "compute dmean and dsigma, each of shape (..., B, D); dnll is already "
                 "shaped (..., B, 1)"),
    ), points=2, minutes=30, builds_on=(), integration=False),
    Task("sgd", "SGD with momentum", (
        Function("numpyvae/optim/sgd.py", "sgd_update", (40,),
                 "update the velocity u and theta in place"),
    ), points=3, minutes=20, builds_on=(), integration=False),
    Task("weight-decay", "L2 weight decay", (
        Function("numpyvae/optim/weight_decay.py", "add_weight_decay", (41,),
                 "return g + weight_decay * theta as a new array, leaving g and theta "
                 "unchanged"),
    ), points=2, minutes=10, builds_on=(), integration=False),
    Task("adam", "Adam with bias correction", (
        Function("numpyvae/optim/adam.py", "adam_update", (42,),
                 "update m, v and theta in place, as Algorithm 1 of Kingma & Ba (t is this "
                 "step's number, from 1)"),
    ), points=6, minutes=40, builds_on=("sgd",), integration=False),
    Task("adagrad", "Adagrad", (
        Function("numpyvae/optim/adagrad.py", "adagrad_update", (43,),
                 "update theta and G in place"),
    ), points=4, minutes=20, builds_on=(), integration=False),
    Task("full-model", "the whole model's gradient check (integration)", (),
         points=6, minutes=20,
         builds_on=("dense-backward", "activations", "sigma", "reparameterize", "kl",
                    "bernoulli", "gaussian"),
         integration=True),
)

# Names that stand for several tasks on the command line.
GROUPS = {
    "all": tuple(t.id for t in TASKS if not t.integration),
    "model": ("dense-backward", "activations", "sigma", "reparameterize", "kl", "bernoulli",
              "gaussian"),
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
    """Every equation of a task's functions (for an integration task: of what it builds on)."""
    if task.integration:
        return tuple(sorted({n for dep in task.builds_on for n in task_equations(get_task(dep))}))
    return tuple(sorted({n for f in task.functions for n in f.equations}))


def stub_message(task, function):
    """What the stub of ``function`` says when it is called."""
    return (f"task '{task.id}' ({task.title}): {function.qualname} in {function.path} is not "
            f"written yet. Goal: {function.goal}. Implement "
            f"{format_equations(function.equations)} of {DERIVATION}.")
