#pragma once
// eqsim under mpirun / srun (DESIGN.md §12): the one place that knows MPI (Open MPI).
// The same binary runs with or without a launcher; cli/main starts a Session only when
// launched_by_mpi() is true, so plain runs never initialise MPI.
//
// Rank 0 runs the command; every other rank waits in serve() for rank 0's task batches
// (study/tasks.hpp) and ends when rank 0 does. Per batch:
//  - Shared state: rank 0 broadcasts the batch's shared bytes (the config as run and the
//    trained model files, from the writer's disk) once; each worker rebuilds the
//    computation from them in a private scratch folder. The models are trained once, on
//    rank 0, before the batch; broadcasting them rather than reading DIR on every rank
//    means DIR need not be on a disk every node sees. The inputs the config names (the
//    config's device models, the data set) are read on every rank from the same path,
//    like the eqsim binary itself.
//  - Dynamic queue: rank 0 hands each worker one task at a time, the next one when its
//    result arrives (chips cost different times); rank 0 computes tasks too, on a
//    thread of its own, while its main thread (the only one calling MPI: thread level
//    FUNNELED) dispatches, polling with an adaptive sleep of 50 us to 2 ms, so -np 2 is
//    two computing ranks, not a master and one worker. Workers wait the same way (up to
//    20 ms between batches), never spinning a core.
//  - One writer: results come back as bytes; rank 0 alone calls the batch's store, so
//    every output file is written by rank 0 (workers write only their scratch folder).
//    Results are bit-identical to one process: a task's bytes depend on its seeds only,
//    and the studies order their tables canonically, not by arrival.
//  - Faults: when a rank dies, mpirun (or srun) terminates the others; rank 0 catches the
//    SIGTERM and prints which tasks were in flight on which rank and how many results it
//    holds, then exits 1. Task files are written atomically, so nothing written is
//    damaged; --resume with any rank count (or none) finishes only what is missing. A
//    task that throws on a worker ends the job (MPI_Abort) with the worker's message.
//  - Measured per batch, on stderr: rank 0's dispatch thread CPU time and the bytes
//    exchanged per task (README, "Running on a cluster").
// Limits: one shared state or result up to 2 GiB (an MPI int count of bytes).
#include <map>
#include <string>

#include "study/tasks.hpp"

namespace eqsim::study::mpi {

// True when mpirun/srun started this process (OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK set).
bool launched_by_mpi();

// The MPI library's name and version ("Open MPI v4.1.4, ..."), first line only; callable
// without MPI initialised (MPI_Get_library_version).
std::string library_version();

class Session {
 public:
  Session(int& argc, char**& argv);  // MPI_Init_thread (FUNNELED)
  ~Session();                        // MPI_Finalize unless finish() aborted
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Rank 0: the executor that spreads a batch over every rank (install with set_task_executor).
  TaskExecutor executor();
  // Ranks > 0: serves rank 0's batches with the factory of each batch's kind until rank 0
  // finishes; returns the process's exit code.
  int serve(const std::map<std::string, WorkerFactory>& factories);
  // Rank 0, at the end: releases the workers and returns exit_code; while a batch is
  // unfinished (an exception left it) it aborts the whole job with exit_code instead.
  int finish(int exit_code);

 private:
  void run_batch(const TaskBatch& batch);
  int rank_ = 0, size_ = 1;
  bool in_batch_ = false;
};

}  // namespace eqsim::study::mpi
