"""Result plots draw what they promise."""

import slt_ppl as slt
from slt_ppl.models import linear_regression


def test_plot_shows_loss_trace_running_llc_and_divergences():
    import matplotlib

    matplotlib.use("Agg")
    case = linear_regression.make(n=500, d=2, seed=0)
    res = slt.estimate_llc(**case.llc_kwargs(), num_draws=300, num_burnin=100)
    ax = res.plot()
    fig = ax.figure
    assert len(fig.axes) == 2 and fig.axes[0].get_ylabel() == "minibatch loss"
    assert len(fig.axes[1].lines) >= 5  # 4 chains + the estimate
