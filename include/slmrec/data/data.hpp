#pragma once
// Everything in slmrec/data: datasets, readers, filters, the leave-one-out
// split, training batches and dataset statistics.
#include <slmrec/data/batch.hpp>
#include <slmrec/data/dataset.hpp>
#include <slmrec/data/filter.hpp>
#include <slmrec/data/id_map.hpp>
#include <slmrec/data/load_options.hpp>
#include <slmrec/data/load_report.hpp>
#include <slmrec/data/read_csv.hpp>
#include <slmrec/data/read_dataset.hpp>
#include <slmrec/data/read_interactions.hpp>
#include <slmrec/data/read_recbole.hpp>
#include <slmrec/data/read_sequences.hpp>
#include <slmrec/data/split.hpp>
#include <slmrec/data/stats.hpp>
