"""Several devices and machines: the strategy, and a replica's share of a batch.

Every step splits its global batch across replicas and all-reduces the
gradients, so a run takes the same steps on any number of devices. Random
draws are made for the global batch and each replica keeps its rows
(`uniform`), so the sampled sequences, roll-outs and dropout masks, and hence
the losses, do not depend on the number of replicas either (the draws are
cheap next to the LSTM and D work they feed).
"""

from __future__ import annotations

import functools
import os
from typing import Callable

import tensorflow as tf

@functools.lru_cache(maxsize=None)
def make_strategy(name: str) -> tf.distribute.Strategy:
  """default: one device; mirrored: every local GPU (or CPU device);
  multi_worker: MultiWorkerMirroredStrategy over the cluster in TF_CONFIG.

  One per process and name: a second MirroredStrategy in the same process
  reuses collective instance keys and fails with a shape mismatch.
  """
  if name == "mirrored":
    # Every GPU; without one, every logical CPU device (one, unless split by
    # tf.config.set_logical_device_configuration, as the tests do).
    devices = (tf.config.list_logical_devices("GPU")
               or tf.config.list_logical_devices("CPU"))
    return tf.distribute.MirroredStrategy([d.name for d in devices])
  if name == "multi_worker":
    if "TF_CONFIG" not in os.environ:
      raise ValueError("--strategy=multi_worker needs TF_CONFIG (the cluster "
                       "and this worker's index); see the README.")
    _configure_coordination(HEARTBEAT_TIMEOUT_MS)
    return tf.distribute.MultiWorkerMirroredStrategy()
  return tf.distribute.get_strategy()


# TensorFlow's coordination service takes a worker for dead after 10 s
# without a heartbeat. On a busy machine (two workers and their compiles on
# 2 cores) a live worker stalled that long and the run aborted; a minute
# keeps a real failure visible without that.
HEARTBEAT_TIMEOUT_MS = 60_000


def _configure_coordination(heartbeat_timeout_ms: int) -> None:
  """The coordination service MultiWorkerMirroredStrategy would configure
  (the same leader and jobs), with a longer heartbeat timeout. The strategy
  keeps a service configured before it is built."""
  # TensorFlow has no public API for this: the strategy's own module gives
  # the protobuf it uses (whose import path moves between versions).
  # pylint: disable=g-import-not-at-top
  from tensorflow.python.distribute import collective_all_reduce_strategy
  from tensorflow.python.distribute import multi_worker_util
  from tensorflow.python.eager import context
  protos = collective_all_reduce_strategy.coordination_config_pb2
  resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
  spec = resolver.cluster_spec()
  jobs = [job for job in ("chief", "worker") if job in spec.jobs]
  if (context.context().coordination_service is not None
      or resolver.task_type not in jobs):
    return
  context.context().configure_coordination_service(
      service_type="standalone",
      service_leader=multi_worker_util.coordination_leader(spec),
      heartbeat_timeout_in_ms=heartbeat_timeout_ms,
      coordinated_jobs=[protos.CoordinatedJob(
          name=job, num_tasks=spec.num_tasks(job)) for job in jobs])


def cluster_task() -> tuple[str | None, int, list[str]]:
  """(this task's type, its index, the cluster's job names) from TF_CONFIG,
  read by TensorFlow's own resolver; (None, 0, []) without a cluster."""
  if not os.environ.get("TF_CONFIG"):
    return None, 0, []
  resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
  return (resolver.task_type, int(resolver.task_id or 0),
          list(resolver.cluster_spec().jobs))


def is_chief() -> bool:
  """Whether this process writes the run's files: the chief, else worker 0,
  or the only process when there is no TF_CONFIG."""
  task_type, index, jobs = cluster_task()
  if task_type is None:
    return True
  if "chief" in jobs:
    return task_type == "chief"
  return task_type == "worker" and index == 0


def worker_folder() -> str:
  """Where a worker other than the chief writes (inside the run's folder)."""
  task_type, index, _ = cluster_task()
  return f"worker-{task_type or 'worker'}-{index}"


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
  return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


@functools.lru_cache(maxsize=None)
def _summed_over_workers(strategy: tf.distribute.Strategy):
  @tf.function(autograph=False)
  def summed(values: tf.Tensor) -> tf.Tensor:
    per_replica = strategy.run(lambda: tf.identity(values))
    return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
  return summed


def sum_over_workers(strategy: tf.distribute.Strategy,
                     values: list[float]) -> list[float]:
  """`values` summed over every replica of every worker (a collective: all
  workers must call it at the same point)."""
  return [float(v) for v in _summed_over_workers(strategy)(
      tf.constant(values, tf.float32)).numpy()]


def uniform(shape: list[int], seed: tf.Tensor, axis: int = 0,
            rows: tuple[tf.Tensor, int] | None = None) -> tf.Tensor:
  """U[0, 1) of `shape`, or this replica's rows of the global draw.

  rows: (first, global size) along `axis`; shape[axis] is the replica's size.
  With rows=None (or one replica) this is tf.random.stateless_uniform(shape).
  """
  if rows is None:
    return tf.random.stateless_uniform(shape, seed)
  first, size = rows[0], rows[1]
  full = list(shape)
  full[axis] = size
  draw = tf.random.stateless_uniform(tf.stack(full), seed)
  begin = [0] * len(shape)
  begin[axis] = first
  return tf.slice(draw, tf.stack(begin), shape)


def global_rows(local: int) -> tuple[tf.Tensor, int] | None:
  """(first row, global size) for a replica holding `local` rows, or None on
  one replica (then draws are made as they always were)."""
  context = tf.distribute.get_replica_context()
  replicas = context.num_replicas_in_sync
  if replicas == 1:
    return None
  return context.replica_id_in_sync_group * local, local * replicas


def distribute(strategy: tf.distribute.Strategy,
               make_dataset: Callable[[], tf.data.Dataset],
               global_batch: int):
  """A dataset of global batches, as each replica's consecutive share.

  Each worker builds the whole dataset (it is small and seeded) and keeps its
  replicas' rows, so every replica gets rows [r * b, (r + 1) * b) of each
  global batch, whatever the cluster.
  """
  replicas = strategy.num_replicas_in_sync
  if replicas == 1:
    return make_dataset()
  per_replica = global_batch // replicas

  def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
    local = replicas // context.num_input_pipelines
    first = context.input_pipeline_id * local * per_replica

    def shares(*batch):
      parts = tuple(tf.reshape(x[first:first + local * per_replica],
                               [local, per_replica] + x.shape[1:].as_list())
                    for x in batch)
      return tf.data.Dataset.from_tensor_slices(parts if len(parts) > 1
                                                else parts[0])
    dataset = make_dataset().flat_map(shares)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.OFF)
    return dataset.with_options(options)

  return strategy.distribute_datasets_from_function(dataset_fn)


class Replicas:
  """What a step does across replicas; on one device, the plain step.

  Each step runs its replica function on every replica's share of the global
  batch (`run`), all-reduces the gradients before the update (`all_reduce`)
  and sums the returned metrics over replicas.
  """

  def __init__(self, strategy: tf.distribute.Strategy):
    self.strategy = strategy
    self.count = strategy.num_replicas_in_sync

  def run(self, replica_fn, *args) -> dict[str, tf.Tensor]:
    """`replica_fn(*args)` on every replica, its dict of metrics summed."""
    per_replica = self.strategy.run(replica_fn, args=args)
    return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for k, v in per_replica.items()}

  def sum(self, value):
    """`value` (a tensor or list) summed over replicas; itself on one."""
    if self.count == 1:
      return value
    return tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, value)

  def all_reduce(self, grads: list) -> list:
    """The whole batch's gradients, dense, on every replica.

    Dense first, on any number of replicas: an embedding's gradient is
    IndexedSlices with one row per token occurrence, and Keras' global norm
    (like TF1's tf.global_norm, which the authors' clip used) adds up each
    occurrence's squared norm rather than that of their sum, so the clip
    would differ between one device and an all-reduce (which sums the rows).
    Summing them here clips by the true norm. FusedAdam densifies anyway.
    """
    grads = [tf.convert_to_tensor(g) for g in grads]
    return grads if self.count == 1 else self.sum(grads)

  def share(self, mean: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """A replica's part of a global mean: its mean over `count` items times
    count / (the items over all replicas), so that the parts sum to it."""
    if self.count == 1:
      return mean
    return mean * count / self.sum(count)
