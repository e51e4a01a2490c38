"""The 'published' CvT-13 that the download, conversion and export tests
treat as the release (QuickGELU: numerically the released model; 1000
named classes): how the ``published`` fixture writes it
(:func:`write_published`) and how a stand-in hub serves it
(:func:`serve_published`)."""
from cvt_backbone.testing import make_hf_cvt

from oracles import hf_to_original_reference

PUBLISHED_LABELS = {i: f'class_{i}_name' for i in range(1000)}


def write_published(root) -> dict:
    """Write the model under ``root`` (a ``pathlib.Path``) as a Hugging
    Face folder (``hf/``), a ``pytorch_model.bin`` and an original-release
    ``CvT-13-orig.pth`` (keys by the published table), with a fixed input
    ``x.pt``. Returns ``dict(root, ref, model)``: ``ref`` holds the model's
    outputs on ``x`` (stage maps and logits)."""
    import torch
    model = make_hf_cvt(num_labels=1000, quick_gelu=True, seed=7,
                        id2label=PUBLISHED_LABELS,
                        label2id={v: k for k, v in PUBLISHED_LABELS.items()})
    model.save_pretrained(root / 'hf')
    state = model.state_dict()
    torch.save(state, root / 'pytorch_model.bin')
    torch.save(hf_to_original_reference(state), root / 'CvT-13-orig.pth')
    x = torch.randn(2, 3, 96, 128, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = model.cvt(x, output_hidden_states=True)
        ref = dict(maps=[h.clone() for h in out.hidden_states],
                   logits=model(x).logits.clone())
    torch.save(x, root / 'x.pt')
    return dict(root=root, ref=ref, model=model)


def serve_published(hub, published: dict) -> dict:
    """Serve the ``published`` fixture's model on ``hub`` (a
    ``cvt_backbone.testing.FakeHub``) as the repo ``microsoft/cvt-13`` (so
    the zoo name ``cvt-13`` finds it; ``model.safetensors`` and, as the
    real repo, ``pytorch_model.bin``: the model index's weights URL) and as
    two plain URLs (Hugging Face and original-release layouts); returns the
    URLs."""
    root = published['root']
    hub.add_repo('microsoft/cvt-13', root / 'hf')
    hub.repos['microsoft/cvt-13']['pytorch_model.bin'] = \
        (root / 'pytorch_model.bin').read_bytes()
    return dict(
        url_bin=hub.add_file('cvt13.bin',
                             (root / 'pytorch_model.bin').read_bytes()),
        url_orig=hub.add_file('CvT-13-224x224-IN-1k.pth',
                              (root / 'CvT-13-orig.pth').read_bytes()))
