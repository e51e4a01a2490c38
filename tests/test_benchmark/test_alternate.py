"""runner.alternate: the one alternate-and-median routine every case kind
runs through."""
from cvt_backbone.benchmark import alternate, each


def test_order_alternates_and_failures_are_left_out_and_reported():
    calls = []

    def measure(name, repeat):
        calls.append((repeat, name))
        if (name, repeat) == ('b', 1):
            return dict(error='worker exited 1: boom')
        return dict(time=dict(a=1., b=10., c=100.)[name] * (repeat + 1))

    logged = []
    runs = alternate(['a', 'b', 'c'], 3, each(measure),
                     label='infer224 fp32 {}'.format, log=logged.append)
    # each repeat runs every name, the order reversed every other repeat
    assert calls == [(0, 'a'), (0, 'b'), (0, 'c'), (1, 'c'), (1, 'b'),
                     (1, 'a'), (2, 'a'), (2, 'b'), (2, 'c')]
    # the failure is kept in the runs, reported once, left out of the median
    assert runs['b'].results[1] == dict(error='worker exited 1: boom')
    assert logged == ['infer224 fp32 b: worker exited 1: boom']
    assert runs['b'].median('time') == 20.  # median of 10 and 30
    assert runs['a'].median('time') == 2.  # of 1, 2 and 3
    assert runs['c'].median(lambda r: r['time'] / 100) == 2.
    assert [len(runs[n].ok) for n in 'abc'] == [3, 2, 3]


def test_one_process_for_all_names_gets_the_repeat_order():
    """The pipeline case's way: one measurement per repeat times every name
    in the order it is given; its failure counts for each, logged once."""
    orders = []

    def measure_all(order, repeat):
        orders.append(order)
        if repeat == 0:
            return {n: dict(error='worker exited 1: no JPEGs') for n in order}
        return {n: dict(time=float(len(n))) for n in order}

    logged = []
    runs = alternate(['decode', 'ours'], 2, measure_all,
                     label=lambda _: 'pipeline', log=logged.append)
    assert orders == [['decode', 'ours'], ['ours', 'decode']]
    assert logged == ['pipeline: worker exited 1: no JPEGs']
    assert runs['decode'].median('time') == 6. and len(runs['ours'].ok) == 1
