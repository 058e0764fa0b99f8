"""Data-parallel training on ``torch.distributed``: ``torchrun --nproc_per_node=N train.py ...``,
or ``srun`` / Hydra's submitit launcher starting one task per GPU inside a SLURM job.

One process per device (NCCL on GPUs, gloo on CPU). Every process builds the same model from the
same seed, takes its slice of the same global batch, and before every optimizer step the
gradients of that optimizer's parameters are averaged over the processes (one all-reduce of a
flattened buffer), so the weights stay identical everywhere. Buffers (batch-norm statistics, a
running mean of w) are broadcast from rank 0 before each batch, as DistributedDataParallel does.

Why not wrap the networks in ``DistributedDataParallel``? Its reducer assumes one forward and one
``backward()`` per network per iteration. genzoo's models step several optimizers per batch, run
one network several times before a backward (ALAE's encoder sees real and fake images), freeze
networks mid-step, and take gradients with ``torch.autograd.grad`` (alpha-GAN's joint step, R1
penalties), which DDP documents it does not support. Averaging each optimizer's gradients right
before it steps is the same arithmetic (sum over ranks, divide by the world size) with none of
those restrictions; what it gives up is overlapping the all-reduce with the backward pass.

Outside ``torchrun`` and multi-task SLURM job steps (no ``WORLD_SIZE`` in the environment, at most
one SLURM task) every function here is a no-op.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from zoo.errors import ZooError


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Rank 0 writes files, logs and evaluates; the others only train."""
    return rank() == 0


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list: ``gpu[003-004,07],cpu1`` -> ``gpu003``."""
    head = nodelist.strip()
    depth = 0
    for i, ch in enumerate(head):  # cut at the first comma outside brackets
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            head = head[:i]
            break
    if "[" not in head:
        return head
    prefix, ranges = head.split("[", 1)
    return prefix + ranges.rstrip("]").split(",")[0].split("-")[0]


def slurm_environment(env: dict[str, str]) -> dict[str, str]:
    """torchrun's variables for a process that SLURM started as one task of several (``srun``, or
    Hydra's submitit launcher with ``tasks_per_node`` > 1): rank, world size and local rank from
    SLURM's task ids, the first node of the job as the rendezvous host, and a port derived from the
    job id (``MASTER_PORT`` in the environment wins). Empty outside such a job step."""
    # SLURM_STEP_NUM_TASKS: the tasks of this job step (srun's); a batch script's own process has
    # SLURM_NTASKS but is one process, not one of the step's tasks
    tasks = env.get("SLURM_STEP_NUM_TASKS", "1")
    if "WORLD_SIZE" in env or not tasks.isdigit() or int(tasks) <= 1 or "SLURM_PROCID" not in env:
        return {}
    nodes = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST") or "127.0.0.1"
    return {
        "RANK": env["SLURM_PROCID"],
        "WORLD_SIZE": tasks,
        "LOCAL_RANK": env.get("SLURM_LOCALID", "0"),
        "MASTER_ADDR": env.get("MASTER_ADDR") or first_host(nodes),
        "MASTER_PORT": env.get("MASTER_PORT") or str(20000 + int(env.get("SLURM_JOB_ID", "0")) % 40000),
    }


def setup(device: str) -> str:
    """Join the process group when started by torchrun, or as one of several SLURM tasks (its
    variables translated to torchrun's, ``slurm_environment``); returns the device name for this
    process (``cuda:<LOCAL_RANK>`` on GPUs)."""
    os.environ.update(slurm_environment(dict(os.environ)))
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or is_distributed():
        return device
    use_cuda = torch.cuda.is_available() and not device.startswith("cpu")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise ZooError(
                f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} GPU(s) here: "
                "use --nproc_per_node at most the number of GPUs"
            )
        torch.cuda.set_device(local_rank)
    # a long timeout: rank 0 writes grids and checkpoints while the others wait at the next batch
    dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(minutes=30))
    return f"cuda:{local_rank}" if use_cuda else "cpu"


def teardown() -> None:
    if is_distributed():
        dist.destroy_process_group()


def broadcast_object(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (e.g. the run folder rank 0 picked)."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@torch.no_grad()
def broadcast_parameters(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if is_distributed():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


@torch.no_grad()
def broadcast_buffers(module: nn.Module) -> None:
    if is_distributed():
        for tensor in module.buffers():
            dist.broadcast(tensor, src=0)


def any_rank(flag: bool, device: torch.device | str = "cpu") -> bool:
    """True on every rank when ``flag`` is true on at least one: ranks must agree to stop or skip,
    or the others would wait forever in the next all-reduce."""
    if not is_distributed():
        return flag
    t = torch.tensor([float(flag)], device=_collective_device(device))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def sum_over_ranks(values: list[float], device: torch.device | str = "cpu") -> list[float]:
    """Element-wise sum of ``values`` over the ranks (e.g. logged loss sums and counts)."""
    if not is_distributed():
        return values
    t = torch.tensor(values, dtype=torch.float64, device=_collective_device(device))
    dist.all_reduce(t)
    return t.tolist()


@torch.no_grad()
def average_gradients(params: Iterable[nn.Parameter]) -> None:
    """Average ``.grad`` over ranks with one all-reduce. A parameter no rank has a gradient for
    keeps ``grad=None`` (so optimizers skip it exactly as in a single process); one that only some
    ranks reached counts as zero on the others."""
    if not is_distributed():
        return
    params = [p for p in params if p.requires_grad]
    if not params:
        return
    device = params[0].device
    present = torch.tensor([float(p.grad is not None) for p in params], device=device)
    flat = torch.cat(
        [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).to(torch.float32) for p in params]
        + [present]
    )
    dist.all_reduce(flat)
    grads, present = flat[: -len(params)], flat[-len(params) :]
    offset = 0
    for p, reached in zip(params, present.tolist(), strict=True):
        n = p.numel()
        if reached:
            p.grad = grads[offset : offset + n].view_as(p).to(p.dtype).div_(world_size())
        offset += n


def _collective_device(device: torch.device | str) -> torch.device:
    """NCCL reduces CUDA tensors only; gloo reduces CPU tensors."""
    return torch.device(device) if dist.get_backend() == "nccl" else torch.device("cpu")
