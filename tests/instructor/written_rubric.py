"""The grader's rubric of the written part (task 'written'): not in the student copy.

:data:`RUBRIC` maps each question id of scripts/written_part.py to what a full answer contains,
as ``(points, what earns them)`` items that add up to the question's points. Equation and
section numbers are those of docs/derivation.md. Give part of an item's points for an answer
that is right but incomplete; none for a bare result without the reasoning the question asks
for. ``python scripts/written_part.py --check`` checks that the ids and points agree with the
questions.
"""

RUBRIC = {
    "kl-zero": (
        (1, "Each term of the sum is >= 0 with equality only at mu_k = 0, sigma_k = 1: mu_k^2 "
            ">= 0 (0 only at mu_k = 0), and with u = sigma_k^2 > 0, u - 1 - log u >= 0 with "
            "equality only at u = 1, shown by log u <= u - 1 (the concave log lies below its "
            "tangent at u = 1) or by the derivative 1 - 1/u (negative below 1, positive "
            "above, so u = 1 is the only minimum, where the value is 0). A sum of "
            "non-negative terms is 0 only when every term is; so KL = 0 exactly when "
            "q = N(0, I). Half a point for the inequality without the 'only when'."),
        (1, "A KL of 0 for every image means q(z|x) is the prior whatever x is: the code "
            "carries no information about the image and the decoder ignores z (posterior "
            "collapse). The student quotes their model's test KL (about 20-23 nats for the "
            "set command) and concludes that the code is used: far from 0, so the latent "
            "dimensions carry information about x."),
    ),
    "sigma-not-variance": (
        (0.5, "log sigma^2 is unconstrained: any real head output gives a valid sigma > 0 "
              "(sigma = exp(s/2), eq. (6)), with no constraint or clipping; a head for sigma "
              "or sigma^2 could go negative or 0, where log sigma in the KL (eq. (12)) is "
              "undefined. (Also accepted: the KL is simple in s, eq. (15), and the scale "
              "spans orders of magnitude.)"),
        (0.75, "mu + sigma^2 v is N(mu, diag sigma^4): its standard deviation is sigma^2, "
               "so it is q only where sigma = 1; the samples are too narrow for sigma < 1 "
               "and too wide for sigma > 1, and the KL of eq. (12), computed for N(mu, "
               "sigma^2), no longer describes the distribution sampled. An affine map of a "
               "standard normal, a + b v, has variance b^2, hence b = sigma."),
        (0.75, "A gradient check compares the backward with finite differences of the same "
               "forward: it proves that the two agree, not that the forward computes the "
               "right quantity. numpy-ml's forward and backward were both written for "
               "mu + sigma^2 v, so they agreed. A test that catches it checks the samples "
               "against the distribution: the mean and standard deviation of z over many "
               "draws (sd should be sigma), or the KL in closed form against a Monte Carlo "
               "estimate of E_q[log q - log p] with z drawn by the code."),
    ),
    "notes-typo": (
        (1, "The outer sum runs over the examples, i = 1..N (or 1..B in a minibatch), not "
            "to K: sum_{i=1}^{N} sum_{k=1}^{K} 0.5[-1 - log sigma^2_{z_k|x^i} + "
            "mu^2_{z_k|x^i} + sigma^2_{z_k|x^i}] (erratum E12). The inner sum over k = 1..K "
            "runs over the latent dimensions, because the KL of a diagonal Gaussian to "
            "N(0, I) is the sum of the per-dimension KLs (section 5.1); the outer one adds "
            "up the examples' KLs (the batch mean of eq. (3) divides it by B)."),
        (1, "Written as it stands, with B = 128 and K = 20, the loop adds the KL of the "
            "first 20 examples of the minibatch only: the other 108 get no KL term, no KL "
            "gradient, so their codes are not pulled toward the prior (and the KL weight "
            "depends on the order of the batch). Half a point for 'a wrong number of "
            "examples' without the consequence."),
    ),
    "beta": (
        (0.5, "The numbers: with beta = 4 the test KL is much lower (about a third: the "
              "reference with seed 0 reaches 7.3 nats against 21.9 with beta = 1), the test "
              "reconstruction higher, i.e. worse (131.4 against 98.0), and the test negative "
              "ELBO, computed with beta = 1, higher (138.7 against 119.9)."),
        (1, "Why: beta > 1 weighs the KL more, so the optimum trades reconstruction for a "
            "q(z|x) closer to the prior: less information in z, fewer active latent "
            "dimensions. Reconstructions become blurrier and lose detail (more often the "
            "wrong digit); samples of z ~ N(0, I) look smoother and more uniformly "
            "digit-like because the aggregate posterior matches the prior better "
            "(fewer holes between the codes of the training images), but blurrier. Accept a "
            "comparison that follows the student's own figures."),
        (0.5, "The loss with beta = 4 is not the negative ELBO: it is reconstruction + "
              "4 KL >= reconstruction + KL = -ELBO >= -log p(x), so it is still an upper "
              "bound on -log p(x) (a looser one) since KL >= 0; for beta < 1 it would no "
              "longer be a bound. The model is trained for another objective, which is why "
              "its beta = 1 test ELBO is worse."),
    ),
    "iwae-tighter": (
        (1, "L_1 = E_q[log(p(x|z) p(z) / q(z|x))] = E_q[log p(x|z)] - KL(q || p), the ELBO "
            "(eq. (1)). L_S >= L_1: the average of the S weights has the same expectation "
            "p(x) for every S, and log of an average of S i.i.d. weights is, by Jensen "
            "(log is concave), at least the average of log over subsets; Burda et al.'s "
            "argument with a random subset of size m gives L_S >= L_m >= L_1 (section 11, "
            "property 3). The gain comes from averaging the weights before the log: the "
            "log of a less variable average loses less to Jensen's gap. It is 0 when the "
            "weights do not vary, i.e. when q(z|x) is the true posterior p(z|x) (then every "
            "w = p(x))."),
        (1, "Their numbers from numpyvae evaluate: the importance-weighted -log p(x) is "
            "below the negative ELBO, by about 6 nats for the set command's model (the "
            "reference with seed 0: 118.32 against 112.53, a gap of 5.79). -log p(x) = "
            "-ELBO - KL(q(z|x) || p(z|x)), so the gap estimates (from below, as L_1000 is "
            "still a bound) the KL from q to the true posterior, averaged over the images: "
            "q is not the true posterior, and the ELBO overestimates -log p(x) by that "
            "much."),
    ),
}


def points(question_id):
    """The points of a question's rubric: the sum of its items."""
    return sum(p for p, _ in RUBRIC[question_id])
