#!/usr/bin/env bash
# Set up the environment if needed, then run the course's main job.
set -euo pipefail
system_packages="bubblewrap"
source "$(dirname "${BASH_SOURCE[0]}")/scripts/bootstrap.sh"
cd "$project_root"

echo "== Inference with the pretrained network on the MNIST test set =="
python mymodules/mnist_prac.py

# The instructor's pipeline on the demo class in demo/submissions: release/,
# submitted/, autograded/, feedback/, gradebook.db and grades.csv, then a table
# of students and scores read from the gradebook.
echo
echo "== Grading the demo class with nbgrader =="
python -m grading.pipeline

echo
echo "== Class report: scores, pass rates and known mistakes (reports/) =="
python -m grading.report
